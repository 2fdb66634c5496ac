"""Booking reference numbers: short, unambiguous when read aloud or copied by hand, self-checking.

Six random characters from an alphabet without 0/O and 1/I, then a Luhn mod 32 check character,
which catches any single mistyped character and any swap of two neighbours."""
from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
BODY_LENGTH = 6
LENGTH = BODY_LENGTH + 1


def _luhn_sum(codes: list[int], double_first: bool) -> int:
    """Luhn mod N over `codes` read from the right; every second one doubled, starting with the
    rightmost when `double_first`."""
    n, total, double = len(ALPHABET), 0, double_first
    for code in reversed(codes):
        addend = code * 2 if double else code
        total += addend // n + addend % n
        double = not double
    return total


def check_character(body: str) -> str:
    total = _luhn_sum([ALPHABET.index(c) for c in body], double_first=True)
    return ALPHABET[-total % len(ALPHABET)]


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
    return _luhn_sum([ALPHABET.index(c) for c in ref], double_first=False) % len(ALPHABET) == 0
