"""Booking reference numbers: short, unambiguous when read aloud or copied by hand, self-checking.

Six random characters, then a check character, from 31 characters without 0/O, 1/I and Z (read as
2). The check makes the position-weighted sum (weights 1..7) divisible by 31; as 31 is prime and the
weights differ, any single mistyped character and any swap of two characters is caught."""
from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXY"
BODY_LENGTH = 6
LENGTH = BODY_LENGTH + 1


def _weighted_sum(text: str) -> int:
    return sum(weight * ALPHABET.index(c) for weight, c in enumerate(text, start=1))


def check_character(body: str) -> str:
    n = len(ALPHABET)
    return ALPHABET[-_weighted_sum(body) * pow(LENGTH, -1, n) % n]


def new_reference() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return body + check_character(body)


def normalize(text: str) -> str:
    """What a person typed (any case, spaces or dashes) in canonical form; not yet checked."""
    return re.sub(r"[\s\-_]", "", text).upper()


def is_valid(text: str) -> bool:
    ref = normalize(text)
    if len(ref) != LENGTH or any(c not in ALPHABET for c in ref):
        return False
    return _weighted_sum(ref) % len(ALPHABET) == 0
