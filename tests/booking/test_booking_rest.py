"""End to end over REST, as a veteran: book 评残 at 乍浦, look the booking up, cancel it; staff see
it masked in `vetbot bookings list --json`, and no clear ID number or phone is left anywhere under
the data directory (conversation store, booking database, logs)."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from booking.calendar import TZ, bookable_days

pytestmark = pytest.mark.stack
ID_NUMBER, PHONE = "330482196503121235", "13857312345"
VETBOT = Path(sys.executable).parent / "vetbot"


@pytest.fixture(scope="module")
def stack(live_stack):
    return live_stack[1]


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def buttons(replies: list[dict]) -> list[dict]:
    return [b for r in replies for b in r.get("buttons", [])]


def a_working_day() -> datetime:
    today = datetime.now(TZ).date()
    days = [d for d in bookable_days(today) if d > today]
    if not days:
        pytest.skip("no bookable day in the window (holiday calendar of next year not published)")
    return days[0]


def test_book_look_up_and_cancel_through_the_chat(stack):
    day, me = a_working_day(), "rest-booking-1"
    assert "评残（新办）" in [b["title"] for b in buttons(stack.say(me, "我想预约评残"))]
    assert "到哪里办" in texts(stack.say(me, "评残（新办）"))
    assert "想约哪天" in texts(stack.say(me, "我住乍浦镇"))
    offered = buttons(stack.say(me, f"{day.month}月{day.day}号上午"))
    assert offered and offered[0]["payload"].startswith(day.isoformat())
    assert "叫什么名字" in texts(stack.say(me, offered[0]["payload"]))
    assert "手机号" in texts(stack.say(me, "王建国"))
    assert "身份证号" in texts(stack.say(me, PHONE))
    read_back = texts(stack.say(me, f"身份证 {ID_NUMBER}"))
    assert "乍浦镇退役军人服务站" in read_back and "330482********1235" in read_back
    assert "原始病历" in read_back  # the checklist, from the catalogue
    done = texts(stack.say(me, "确认"))
    assert "预约成功" in done
    reference = done.split("预约号：")[1][:7]

    listed = json.loads(subprocess.run([str(VETBOT), "bookings", "list", "--json"], env=stack.env,
                                       capture_output=True, text=True, check=True).stdout)
    mine = next(b for b in listed if b["reference"] == reference)
    assert (mine["id_number"], mine["phone"], mine["status"]) == ("330482********1235", "138****2345", "booked")

    # another conversation: by reference, the phone as the check
    other = "rest-booking-2"
    assert "手机号" in texts(stack.say(other, f"查一下预约 {reference}"))
    assert reference in texts(stack.say(other, PHONE))

    # the same veteran cancels it
    assert "确定要取消" in texts(stack.say(me, "我要取消预约"))
    assert "已经取消" in texts(stack.say(me, "确定"))
    listed = json.loads(subprocess.run([str(VETBOT), "bookings", "list", "--json", "--status", "cancelled"],
                                       env=stack.env, capture_output=True, text=True, check=True).stdout)
    assert reference in [b["reference"] for b in listed]

    # The data dir of the shared stack: what every stack test before this one left there too.
    data_dir = Path(stack.env["VETBOT_DATA_DIR"])
    for path in data_dir.rglob("*"):
        if path.is_file() and not path.is_symlink() and "models" not in path.parts and "kb" not in path.parts:
            content = path.read_bytes()
            assert ID_NUMBER.encode() not in content, path
            assert PHONE.encode() not in content or path.name.startswith("vetbot.sqlite3"), path


def test_stop_in_the_middle_saves_nothing_and_a_policy_question_is_answered(stack):
    me = "rest-booking-3"
    stack.say(me, "帮我预约带病回乡认定")
    stack.say(me, "新埭")
    answer = texts(stack.say(me, "带病回乡要什么条件"))
    assert "依据" in answer and "想约哪天" in answer  # answered, then the form asks again
    assert "没有保存" in texts(stack.say(me, "算了 不约了"))
