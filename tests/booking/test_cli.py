"""`vetbot bookings …` through the real entry point, against a migrated SQLite database under a
temp VETBOT_DATA_DIR populated through the booking service."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from datetime import date, time, timedelta
from pathlib import Path

import pytest

from booking import reference
from booking.service import create_booking, get_by_reference, reschedule, seats_taken
from tests.booking.databases import fresh_database
from vetbot.cli import main
from vetbot.storage import session_scope

ID_NUMBER = "33048219650312123X"
CLEAR_ID = re.compile(r"\d{17}[\dX]")
WED, THU, FRI = date(2026, 12, 9), date(2026, 12, 10), date(2026, 12, 11)
VETBOT = Path(sys.executable).with_name("vetbot")
HEADER = "预约号,日期,时间,地点,事项,姓名,手机,身份证号,状态,渠道,预约提交时间"


@pytest.fixture
def db(tmp_path, monkeypatch):
    """Four bookings: a (Wed 9:00 乍浦 评残新办), b (Wed 10:00 当湖 评残新办),
    c (Thu 14:30 centre 优待证补办), d (Fri 9:00 乍浦 评残新办, by the hotline)."""
    monkeypatch.setenv("VETBOT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("VETBOT_DATABASE_URL", raising=False)
    monkeypatch.delenv("VETBOT_PII_KEY", raising=False)
    with fresh_database("sqlite", tmp_path):
        refs = {}
        with session_scope() as s:
            for key, service, location, day, at, phone, channel in [
                ("a", "pingcan-xinban", "zhapu", WED, time(9), "13812345670", "rest"),
                ("b", "pingcan-xinban", "danghu", WED, time(10), "13812345671", "wechat"),
                ("c", "youdaizheng-buban", "centre", THU, time(14, 30), "13812345672", "rest"),
                ("d", "pingcan-xinban", "zhapu", FRI, time(9), "13812345673", None),
            ]:
                refs[key] = create_booking(
                    s, service_code=service, location_code=location, date=day, start_time=at,
                    name=f"老兵{key}", phone=phone, id_number=ID_NUMBER, capacity=2,
                    actor="veteran:rest:u1", channel=channel).reference
        yield refs


def run(capsys, *argv):
    code = main(["bookings", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def listed(capsys, *argv) -> list[str]:
    code, out, err = run(capsys, "list", "--json", *argv)
    assert (code, err) == (0, "")
    return [b["reference"] for b in json.loads(out)]


def assert_no_clear_personal_data(text: str, phones=True) -> None:
    assert ID_NUMBER not in text and not CLEAR_ID.search(text)
    if phones:
        assert not re.search(r"1\d{10}", text)


def shanghai(moment) -> str:
    return (moment.replace(tzinfo=None) + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")


def test_list_json_gives_every_field_with_phone_and_id_masked(db, capsys):
    code, out, err = run(capsys, "list", "--json", "--date", "2026-12-09")
    assert (code, err) == (0, "")
    with session_scope() as s:
        created = shanghai(get_by_reference(s, db["a"]).created_at)
    first, second = json.loads(out)
    assert first == {
        "reference": db["a"], "status": "booked", "status_label": "已预约",
        "service_code": "pingcan-xinban", "service": "评残（新办）",
        "location_code": "zhapu", "location": "乍浦镇退役军人服务站",
        "date": "2026-12-09", "start_time": "09:00", "name": "老兵a",
        "phone": "138****5670", "id_number": "330482********123X", "channel": "rest",
        "created_at": created,
    }
    assert (second["reference"], second["phone"], second["channel"]) == (
        db["b"], "138****5671", "wechat")
    assert_no_clear_personal_data(out)


def test_show_phone_gives_the_full_phone_but_never_the_id(db, capsys):
    code, out, _ = run(capsys, "list", "--json", "--show-phone", "--date", "2026-12-09")
    assert code == 0
    assert [b["phone"] for b in json.loads(out)] == ["13812345670", "13812345671"]
    assert_no_clear_personal_data(out, phones=False)


def test_filters(db, capsys):
    a, b, c, d = db["a"], db["b"], db["c"], db["d"]
    assert listed(capsys) == [a, b, c, d]
    assert listed(capsys, "--date", "2026-12-10") == [c]
    assert listed(capsys, "--from", "2026-12-10") == [c, d]
    assert listed(capsys, "--to", "2026-12-10") == [a, b, c]
    assert listed(capsys, "--from", "2026-12-10", "--to", "2026-12-10") == [c]
    assert listed(capsys, "--location", "zhapu") == [a, d]
    assert listed(capsys, "--location", "当湖") == [b]
    assert listed(capsys, "--location", "平湖市退役军人服务中心") == [c]
    assert listed(capsys, "--service", "youdaizheng-buban") == [c]
    assert listed(capsys, "--service", "评残（新办）") == [a, b, d]
    assert run(capsys, "cancel", d, "--by", "王五")[0] == 0
    assert listed(capsys, "--status", "cancelled") == [d]
    assert listed(capsys, "--status", "booked", "--location", "zhapu") == [a]
    assert listed(capsys, "--status", "booked", "--status", "cancelled", "--date",
                  "2026-12-11") == [d]


def test_table_for_the_terminal(db, capsys):
    code, out, _ = run(capsys, "list", "--from", "2026-12-09", "--to", "2026-12-09")
    assert code == 0
    assert out.splitlines() == [
        "预约号   日期             时间   地点            事项          姓名   手机         状态",
        f"{db['a']}  2026-12-09 周三  09:00  乍浦镇服务站    评残（新办）  老兵a  138****5670  已预约",
        f"{db['b']}  2026-12-09 周三  10:00  当湖街道服务站  评残（新办）  老兵b  138****5671  已预约",
        "共 2 条",
    ]
    assert run(capsys, "list", "--date", "2027-01-04")[1] == "没有符合条件的预约。\n"


def test_csv_list_and_export(db, capsys, tmp_path):
    code, out, _ = run(capsys, "list", "--csv", "--service", "youdaizheng-buban")
    with session_scope() as s:
        created = shanghai(get_by_reference(s, db["c"]).created_at)
    assert code == 0
    assert out.splitlines() == [
        HEADER,
        f"{db['c']},2026-12-10,14:30,平湖市退役军人服务中心,优待证补办,老兵c,138****5672,"
        f"330482********123X,已预约,rest,{created}",
    ]
    code, exported, _ = run(capsys, "export")
    assert code == 0
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[0] == HEADER.split(",")
    assert [(r[0], r[6], r[9]) for r in rows[1:]] == [
        (db["a"], "138****5670", "rest"), (db["b"], "138****5671", "wechat"),
        (db["c"], "138****5672", "rest"), (db["d"], "138****5673", "")]
    assert_no_clear_personal_data(exported)

    target = tmp_path / "bookings.csv"
    code, out, _ = run(capsys, "export", "--csv", str(target), "--location", "zhapu",
                       "--show-phone")
    assert (code, out) == (0, f"已导出 2 条预约到 {target}\n")
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel opens the Chinese correctly
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert [(r[0], r[6]) for r in rows] == [
        ("预约号", "手机"), (db["a"], "13812345670"), (db["d"], "13812345673")]
    assert_no_clear_personal_data(data.decode("utf-8-sig"), phones=False)


def test_status_flow_and_refused_transition(db, capsys):
    a, b = db["a"], db["b"]
    assert run(capsys, "status", a, "arrived", "--by", "李四") == (
        0, f"预约 {a} 已登记为“已到场”。操作人：李四\n", "")
    assert run(capsys, "status", a, "no_show", "--by", "李四") == (
        1, "", f"预约 {a} 现在是“已到场”，不能改为“未到场”。\n")
    assert run(capsys, "status", a, "done", "--by", "李四")[0] == 0
    assert run(capsys, "status", b, "no_show", "--by", "李四")[0] == 0
    assert run(capsys, "cancel", b, "--by", "李四") == (
        1, "", f"预约 {b} 现在是“未到场”，不能改为“已取消”。\n")
    with session_scope() as s:
        assert [e.after["status"] for e in get_by_reference(s, a).events] == [
            "booked", "arrived", "done"]
        assert {e.actor for e in get_by_reference(s, a).events[1:]} == {"staff:李四"}
        assert get_by_reference(s, b).status == "no_show"


def test_cancel_frees_the_seat_and_show_prints_the_trail(db, capsys):
    a = db["a"]
    assert run(capsys, "cancel", a.lower(), "--by", "王五", "--reason", "老兵来电改约") == (
        0, f"已取消预约 {a}（2026-12-09 09:00），该时段名额已释放。操作人：王五\n"
        "老兵不是在微信上预约的：已加入待电话通知列表（vetbot bookings calls）。\n", "")
    with session_scope() as s:
        assert seats_taken(s, "zhapu", WED) == {time(9): 0}
        created, cancelled = (shanghai(e.at) for e in get_by_reference(s, a).events)
    code, out, err = run(capsys, "show", a)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"预约号    {a}（已取消）",
        "事项      评残（新办）",
        "地点      乍浦镇退役军人服务站",
        "时间      2026-12-09 周三 09:00",
        "姓名      老兵a",
        "手机      13812345670",
        "身份证号  330482********123X",
        "渠道      rest",
        "操作记录：",
        f"  {created}  veteran:rest:u1  预约 2026-12-09 09:00",
        f"  {cancelled}  staff:王五  状态 已预约 → 已取消，原因：老兵来电改约",
    ]
    code, out, _ = run(capsys, "show", a, "--json")
    shown = json.loads(out)
    assert shown["events"][1] == {"at": cancelled, "actor": "staff:王五", "action": "status",
                                  "change": "状态 已预约 → 已取消，原因：老兵来电改约"}
    assert_no_clear_personal_data(out, phones=False)


def test_show_names_only_what_a_reschedule_changed(db, capsys):
    with session_scope() as s:
        reschedule(s, db["a"], date=WED, start_time=time(9, 30), capacity=2, actor="staff:王五")
        reschedule(s, db["a"], date=THU, start_time=time(10), capacity=2, actor="staff:王五",
                   location_code="danghu")
    code, out, _ = run(capsys, "show", db["a"], "--json")
    assert [e["change"] for e in json.loads(out)["events"]] == [
        "预约 2026-12-09 09:00", "改期 09:00 → 09:30",
        "改期 zhapu → danghu，2026-12-09 → 2026-12-10，09:30 → 10:00"]


@pytest.mark.parametrize("argv, message", [
    (["show", "ABCDEFG"], "没有找到这个预约，请核对预约号。"),
    (["cancel", "ABCDEFG", "--by", "王五"], "没有找到这个预约，请核对预约号。"),
    (["status", "ABCDEFG", "arrived", "--by", "王五"], "没有找到这个预约，请核对预约号。"),
    (["cancel", "{a}", "--by", "  "], "请用 --by 写明操作的工作人员姓名。"),
    (["list", "--date", "2026-13-01"],
     "--date 的日期“2026-13-01”看不懂，请写成 2026-12-09 这样的 年-月-日。"),
    (["export", "--from", "12月9日"],
     "--from 的日期“12月9日”看不懂，请写成 2026-12-09 这样的 年-月-日。"),
    (["list", "--from", "2026-12-10", "--to", "2026-12-09"],
     "--from 2026-12-10 晚于 --to 2026-12-09，请检查日期范围。"),
    (["list", "--date", "2026-12-09", "--to", "2026-12-10"],
     "--date 是某一天，--from / --to 是一段日期，两者只能用一种。"),
    (["list", "--service", "评残"],
     "“评残”对应多个事项，请写明是哪一个：pingcan-xinban（评残（新办））、"
     "pingcan-buban（评残（补办））、pingcan-tiaozheng（评残（调整等级））"),
])
def test_refusals_are_one_chinese_line_and_exit_1(db, capsys, argv, message):
    argv = [arg.format(**db) for arg in argv]
    assert run(capsys, *argv) == (1, "", message + "\n")


def test_unknown_location_lists_the_known_ones(db, capsys):
    code, out, err = run(capsys, "list", "--location", "上海")
    assert (code, out) == (1, "")
    assert err.startswith("没有叫“上海”的地点。可用的地点：centre（平湖市退役军人服务中心）、")
    assert "zhapu（乍浦镇退役军人服务站）" in err


def test_unreachable_database(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'missing' / 'vetbot.sqlite3'}"
    monkeypatch.setenv("VETBOT_DATABASE_URL", url)
    ref = reference.new_reference()  # well-formed, so show looks it up
    for argv in (["list"], ["show", ref], ["cancel", ref, "--by", "王五"]):
        assert run(capsys, *argv) == (
            1, "", f"无法读写数据库 {url}：unable to open database file"
                   "（数据库是否可用？是否已运行 vetbot db upgrade？）\n")


def test_installed_command_lists_json_in_a_subprocess(db, tmp_path):
    env = {**os.environ, "VETBOT_DATA_DIR": str(tmp_path)}
    env.pop("VETBOT_DATABASE_URL", None)
    result = subprocess.run([str(VETBOT), "bookings", "list", "--json"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")
    bookings = json.loads(result.stdout)
    assert [(b["reference"], b["phone"], b["id_number"]) for b in bookings] == [
        (db[k], f"138****567{i}", "330482********123X") for i, k in enumerate("abcd")]
    assert_no_clear_personal_data(result.stdout)


def _working_days_ahead():
    from datetime import datetime

    from booking.calendar import TZ, bookable_days

    today = datetime.now(TZ).date()
    days = [d for d in bookable_days(today) if d > today]
    if len(days) < 2:
        pytest.skip("not enough bookable days in the window (next year's holidays not published)")
    return days


def test_move_by_staff_checks_the_calendar_and_tells_the_veteran(db, capsys):
    a = db["a"]
    day = _working_days_ahead()[1]
    assert run(capsys, "move", a, day.isoformat(), "14:00", "--by", "王五") == (
        0, f"已把预约 {a} 改到 {day.isoformat()} 14:00。操作人：王五\n"
        "老兵不是在微信上预约的：已加入待电话通知列表（vetbot bookings calls）。\n", "")
    with session_scope() as s:
        assert (get_by_reference(s, a).date, get_by_reference(s, a).start_time) == (day, time(14))
    # a time outside the office hours and a malformed date are refused, nothing changes
    code, _, err = run(capsys, "move", a, day.isoformat(), "12:00", "--by", "王五")
    assert code == 1 and "办理时间" in err
    assert run(capsys, "move", a, "明天", "14:00", "--by", "王五")[0] == 2
    with session_scope() as s:
        assert get_by_reference(s, a).start_time == time(14)
