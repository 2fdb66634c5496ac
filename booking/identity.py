"""Resident ID numbers (GB 11643, 18 digits with check digit) and mainland mobile numbers as the
veteran types them: validation with short Chinese messages. The dialogue validates here first;
storage (booking.pii) then hashes and masks the normalised values."""
from __future__ import annotations

import re
import unicodedata
from datetime import date

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"  # indexed by (weighted sum mod 11)
ID_FORMAT = "身份证号是18位：前17位是数字，最后一位是数字或X。"
MOBILE_FORMAT = "手机号是11位数字，以1开头，比如138 0000 0000。"


class InvalidIdentity(ValueError):
    """str() is the Chinese message for the veteran."""


def _compact(text: str) -> str:
    """Full-width characters to ASCII, and the spaces and dashes people type between groups removed."""
    return re.sub(r"[\s\-－—]", "", unicodedata.normalize("NFKC", text)).upper()


def id_check_char(first17: str) -> str:
    return ID_CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS)) % 11]


def validate_id_number(text: str, today: date | None = None) -> str:
    """The 18-character ID number (X upper-case); InvalidIdentity when it is not one."""
    number = _compact(text)
    if not re.fullmatch(r"\d{17}[\dX]", number):
        raise InvalidIdentity(f"身份证号的位数或写法不对。{ID_FORMAT}")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        born = None
    if born is None or born.year < 1900 or born > (today or date.today()):
        raise InvalidIdentity("身份证号里的出生日期不对，请核对第7到14位。")
    if number[17] != id_check_char(number[:17]):
        raise InvalidIdentity("身份证号有一位不对（最后一位校验不通过），请再核对一遍。")
    return number


def validate_mobile(text: str) -> str:
    """The 11-digit mainland mobile number (a +86 / 0086 prefix is dropped)."""
    number = re.sub(r"^(\+86|0086)", "", _compact(text))
    if not re.fullmatch(r"1[3-9]\d{9}", number):
        raise InvalidIdentity(f"手机号不对。{MOBILE_FORMAT}")
    return number

