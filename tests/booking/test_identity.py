"""ID number (GB 11643) and mobile validation, and masking."""
from __future__ import annotations

from datetime import date

import pytest

from booking.identity import InvalidIdentity, validate_id_number, validate_mobile
from booking.pii import mask_id_number, mask_phone

GB_EXAMPLE = "11010519491231002X"  # the example number printed in GB 11643 (check digit X)
PINGHU = "330482196503151231"  # 平湖 prefix; check digit worked out by hand: sum 286, mod 11 = 0 -> "1"
TODAY = date(2026, 12, 2)


@pytest.mark.parametrize(("said", "expected"), [
    (GB_EXAMPLE, GB_EXAMPLE),
    ("11010519491231002x", GB_EXAMPLE),  # lower-case x
    ("１１０１０５１９４９１２３１００２Ｘ", GB_EXAMPLE),  # full-width input method
    ("330482 19650315 1231", PINGHU),
    ("330482-19650315-1231", PINGHU),
])
def test_valid_id_numbers(said, expected):
    assert validate_id_number(said, TODAY) == expected


@pytest.mark.parametrize(("said", "message"), [
    ("110105194912310021", "最后一位校验不通过"),  # X replaced by a digit
    ("330482196503151232", "最后一位校验不通过"),  # last digit off by one
    ("330482196503151321", "最后一位校验不通过"),  # two digits swapped
    ("330482196503151", "位数或写法不对"),  # 15 digits (old format) is not accepted
    ("3304821965031512310", "位数或写法不对"),
    ("33048219650315123A", "位数或写法不对"),
    ("X30482196503151231", "位数或写法不对"),
    ("330482196513151238", "出生日期不对"),  # month 13
    ("330482202712010000", "出生日期不对"),  # born after today
    ("330482189912310000", "出生日期不对"),  # before 1900
])
def test_invalid_id_numbers(said, message):
    with pytest.raises(InvalidIdentity, match=message):
        validate_id_number(said, TODAY)


def test_every_single_digit_change_is_caught():
    for position in range(17):
        digit = PINGHU[position]
        for other in "0123456789":
            if other == digit:
                continue
            changed = PINGHU[:position] + other + PINGHU[position + 1:]
            with pytest.raises(InvalidIdentity):
                validate_id_number(changed, TODAY)


@pytest.mark.parametrize(("said", "expected"), [
    ("13812345678", "13812345678"),
    ("138 1234 5678", "13812345678"),
    ("138-1234-5678", "13812345678"),
    ("+8613812345678", "13812345678"),
    ("008619912345678", "19912345678"),
    ("１３８１２３４５６７８", "13812345678"),
])
def test_valid_mobiles(said, expected):
    assert validate_mobile(said) == expected


@pytest.mark.parametrize("said", [
    "1381234567", "138123456789", "12812345678", "23812345678", "0573-85123456", "1381234567a", "",
])
def test_invalid_mobiles(said):
    with pytest.raises(InvalidIdentity, match="手机号是11位数字"):
        validate_mobile(said)


def test_validated_values_mask_as_stored():
    # what the veteran types, validated here, is what storage (booking.pii) masks
    assert mask_id_number(validate_id_number("330482 19650315 1231", TODAY)) == "330482********1231"
    assert mask_id_number(validate_id_number("11010519491231002x", TODAY)) == "110105********002X"
    assert mask_phone(validate_mobile("+86 138-1234-5678")) == "138****5678"
