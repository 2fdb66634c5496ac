"""End to end on WeChat: a veteran books through the fake WeChat server and the real servers,
answering the numbered options with digits, as they do on a phone."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from booking.calendar import TZ, bookable_days

pytestmark = pytest.mark.stack
ID_NUMBER, PHONE = "330482195807014522", "15968321470"
VETBOT = Path(sys.executable).parent / "vetbot"


def test_booking_on_wechat_with_numbered_options(live_stack):
    fake, stack = live_stack
    url, openid = f"{stack.rasa_url}/webhooks/wechat/webhook", "oE2E_booking"
    today = datetime.now(TZ).date()
    days = [d for d in bookable_days(today) if d > today]
    if not days:
        pytest.skip("no bookable day in the window (holiday calendar of next year not published)")
    day = days[0]

    def say(text: str) -> str:
        result = fake.push_text(url, openid, text, mode="safe")
        assert result.status == 200 and result.content, f"no passive reply to {text!r}"
        return result.content

    menu = say("我要预约参战参核认定")
    assert "到哪里办" in menu and "回复数字" in menu  # the service was clear: straight to the place
    assert "想约哪天" in say("1")  # 1 = the city service centre
    times = say(f"{day.month}月{day.day}号下午")
    assert "1 " in times and "下午" in times
    assert "名字" in say("1")  # the first free afternoon time
    assert "手机号" in say("李国强")
    assert "身份证号" in say(PHONE)
    read_back = say(ID_NUMBER)
    assert "平湖市退役军人服务中心" in read_back and "330482********4522" in read_back
    assert ID_NUMBER not in read_back and "159****1470" in read_back
    done = say("1")  # 1 = 确认预约
    assert "预约成功" in done
    reference = done.split("预约号：")[1][:7]

    listed = json.loads(subprocess.run([str(VETBOT), "bookings", "list", "--json"], env=stack.env,
                                       capture_output=True, text=True, check=True).stdout)
    mine = next(b for b in listed if b["reference"] == reference)
    assert (mine["service_code"], mine["location_code"], mine["date"]) == ("canzhan-rending", "centre", day.isoformat())
    assert mine["start_time"] >= "13:30" and mine["channel"] == "wechat"
    assert mine["id_number"] == "330482********4522" and mine["phone"] == "159****1470"
