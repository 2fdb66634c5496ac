"""Personal data at rest.

ID numbers are never stored in clear: a keyed hash (HMAC-SHA256, for look-up and de-duplication)
plus the masked form 330482********1234 (for reading back to staff and the veteran).
The key comes from $VETBOT_PII_KEY, else from $VETBOT_DATA_DIR/pii.key, generated on first use
(mode 0600). Losing the key makes stored hashes unmatchable, so back it up with the database.

Phone numbers are stored in clear: staff call and text them, and the veteran looks a booking up by
them. Encrypting them with a key kept next to the database would add little; they are masked
(138****5678) wherever they are shown in a list, a log or a repr.

In a conversation, what the veteran types is redacted (`redact`) before the tracker is stored or a
log line written; a phone the dialogue needs later is kept in its slot sealed (`seal`, Fernet with a
key derived from the same secret), never in clear.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from vetbot.config import data_dir
from vetbot.settings import settings

KEY_FILE = "pii.key"
ID_NUMBER = re.compile(r"\d{17}[\dX]")
PHONE = re.compile(r"1\d{10}")
# In free text (any digits, full-width too; spaces or dashes between groups, as people type them):
# an ID number (18, or the old 15) and a mobile, not inside a longer run of digits.
_SEP = r"[ \-－]?"
ID_IN_TEXT = re.compile(rf"(?<![\dA-Za-z])\d{{6}}{_SEP}(?:\d{{8}}{_SEP}\d{{3}}[\dXxＸｘ]|\d{{6}}{_SEP}\d{{3}})(?![\dA-Za-z])")
PHONE_IN_TEXT = re.compile(rf"(?<!\d)(?:(?:\+|00)?86{_SEP})?1\d{{2}}{_SEP}\d{{4}}{_SEP}\d{{4}}(?!\d)")


def _key_file() -> Path:
    """The key file, created once and atomically: written in full under a temporary name, then
    linked into place, so a concurrent process never reads a half-written key and two processes
    never end up with different keys (link fails if another process got there first)."""
    path = data_dir() / KEY_FILE
    if not path.exists():
        tmp = path.with_name(f"{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path


def pii_key() -> bytes:
    text = settings().pii_key or _key_file().read_text()
    return text.strip().encode()


def normalize_id_number(value: str) -> str:
    """18 characters, the last a digit or X (the check digit itself is the dialogue's to verify)."""
    id_number = re.sub(r"\s", "", value).upper()
    if not ID_NUMBER.fullmatch(id_number):
        raise ValueError("身份证号应为18位（最后一位可以是X）")
    return id_number


def hash_id_number(value: str) -> str:
    return hmac.new(pii_key(), normalize_id_number(value).encode(), hashlib.sha256).hexdigest()


def mask_id_number(value: str) -> str:
    id_number = normalize_id_number(value)
    return id_number[:6] + "*" * 8 + id_number[-4:]


@dataclass(frozen=True)
class ProtectedId:
    """An ID number as it is kept: keyed hash and masked form, the clear number gone."""
    hash: str
    masked: str

    @classmethod
    def of(cls, id_number: str) -> "ProtectedId":
        return cls(hash_id_number(id_number), mask_id_number(id_number))


def normalize_phone(value: str) -> str:
    phone = re.sub(r"[\s\-]", "", value)
    if not PHONE.fullmatch(phone):
        raise ValueError("手机号应为11位数字，以1开头")
    return phone


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]


def _mask_match(match: re.Match, keep_head: int, keep_tail: int) -> str:
    chars = re.sub(r"[ \-－]", "", match.group())
    return chars[:keep_head] + "*" * (len(chars) - keep_head - keep_tail) + chars[-keep_tail:]


def redact(text: str) -> str:
    """The text with every ID number and mobile number in it masked (330482********1234,
    138****5678); everything else unchanged."""
    text = ID_IN_TEXT.sub(lambda m: _mask_match(m, 6, 4), text)
    return PHONE_IN_TEXT.sub(lambda m: _mask_match(m, len(re.sub(r"[ \-－]", "", m.group())) - 8, 4), text)


def _fernet() -> Fernet:
    # A key of its own for sealing, derived from the PII secret (one secret to back up).
    derived = hmac.new(pii_key(), b"vetbot-seal-v1", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(value: str) -> str:
    """`value` encrypted and authenticated, for keeping in a conversation slot until it is used."""
    return _fernet().encrypt(value.encode()).decode()


def unseal(token: str) -> str:
    """The sealed value; ValueError when the token was not sealed with this key or was altered."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        raise ValueError("sealed value cannot be opened (other key, or altered)") from None


# Keys to find a conversation by a number without storing it: the tracker store and the event broker
# put them into an event's metadata (KEYS) before masking; the console looks a typed number up by them.
KEYS = "vetbot_keys"  # metadata field: keyed hashes of the phones / ID numbers said
_SEPARATORS = re.compile(r"[ \-－]")


def phone_key(phone: str) -> str:
    """The keyed hash of a mobile number (same HMAC and key as booking.pii.hash_id_number)."""
    return hmac.new(pii_key(), normalize_phone(phone).encode(), hashlib.sha256).hexdigest()


def _digits(text: str) -> str:
    # Full-width digits (１３８…) count as digits in the patterns; the hash needs them in ASCII.
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).upper()


def number_keys(text: str) -> list[str]:
    """Keys of every whole phone and 18-character ID number in `text`, in order, each once.
    A 15-digit old ID number is masked but not keyed (the hash is defined on 18 characters)."""
    keys: list[str] = []
    for match in ID_IN_TEXT.finditer(text):
        id_number = _digits(match.group())
        if len(id_number) == 18:
            keys.append(hash_id_number(id_number))
    for match in PHONE_IN_TEXT.finditer(text):
        phone = _digits(match.group()).removeprefix("+").removeprefix("00")
        keys.append(phone_key(phone[-11:]))
    return list(dict.fromkeys(keys))


def key_of(query: str) -> str | None:
    """The key of a query that is one whole phone or ID number and nothing else; None otherwise
    (a part of a number identifies nobody and matches nothing)."""
    query = query.strip()
    keys = number_keys(query)
    whole = ID_IN_TEXT.fullmatch(query) or PHONE_IN_TEXT.fullmatch(query)
    return keys[0] if whole and len(keys) == 1 else None
