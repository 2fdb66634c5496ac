"""`vetbot appeals …` on a migrated SQLite database: queue order, filters, masking, steps with
roles, extension, tasks, stats on a small fixed data set."""
from __future__ import annotations

import json
from datetime import date

import pytest

import appeals.cli
from appeals import service
from tests.appeals.helpers import at, file, move
from vetbot.cli import main
from vetbot.storage import get_engine, session_scope

ID_NUMBER = "33048219650312123X"


@pytest.fixture
def db(sqlite_url, monkeypatch):
    monkeypatch.setattr(appeals.cli, "_today", lambda: date(2026, 12, 4))
    return sqlite_url


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["appeals", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_list_is_urgent_first_then_deadline_masked_and_filtered(db, capsys):
    late = file(db, key="a", description=f"优待金没发，身份证{ID_NUMBER}")  # deadline 3 Dec: overdue on 4 Dec
    urgent = file(db, key="b", signals=["没饭吃"], category="kunnan", town="新仓",
                  when=at(date(2026, 12, 4)), phone="13900000001")
    code, out, err = run(capsys, "list", "--json")
    records = json.loads(out)
    assert (code, err) == (0, "")
    assert [(r["reference"], r["urgent"], r["overdue"], r["phone"]) for r in records] == [
        (urgent, True, False, "139****0001"), (late, False, True, "138****5678")]
    assert ID_NUMBER not in out and "13812345678" not in out
    assert records[1]["description"] == "优待金没发，身份证330482********123X"
    assert [r["reference"] for r in json.loads(run(capsys, "list", "--json", "--urgent")[1])] == [urgent]
    assert [r["reference"] for r in json.loads(run(capsys, "list", "--json", "--overdue")[1])] == [late]
    assert [r["reference"] for r in json.loads(run(capsys, "list", "--json", "--town", "乍浦")[1])] == [late]
    assert [r["reference"] for r in json.loads(run(capsys, "list", "--json", "--category", "生活困难")[1])] == [urgent]
    assert json.loads(run(capsys, "list", "--json", "--show-phone")[1])[1]["phone"] == "13812345678"
    code, out, _ = run(capsys, "list", "--csv")
    assert out.splitlines()[0] == "编号,紧急,分类,状态,期限,超期,承办,镇(街道),姓名,手机,上门,渠道,登记时间,诉求内容"
    assert out.splitlines()[2].startswith(f"{late},,待遇落实,已受理,2026-12-03,是,,乍浦镇雅山村,张建国,138****5678,")
    code, out, _ = run(capsys, "list")
    assert out.splitlines()[0] == f"【紧急】{urgent}  已受理  期限 2026-12-07  生活困难  新仓  张建国  139****0001  承办 —"
    assert ID_NUMBER not in out and "13812345678" not in out


def test_update_with_roles_and_reasons(db, capsys):
    reference = file(db, channel="rest", sender_id="u1")
    assert run(capsys, "update", reference, "--to", "closed", "--by", "王五") == (
        1, "", f"诉求 {reference} 现在是“已受理”，不能改为“已办结”。"
               "可以改为：已派单（dispatched，派单）、已答复（answered，直接答复）。\n")
    assert run(capsys, "update", reference, "--to", "已派单", "--by", "王五", "--role", "station",
               "--assignee", "乍浦")[2] == "“派单”只能由受理工作人员（hotline）、分管领导（leader）来做，承办单位（服务站、科室）不能做。\n"
    code, out, err = run(capsys, "update", reference, "--to", "已派单", "--by", "王五", "--assignee", "乍浦")
    assert (code, err) == (0, "")
    assert out.splitlines()[1] == "老兵不是在微信上反映的：已加入诉求待办（vetbot appeals tasks），请电话告知。"
    with session_scope(get_engine(db)) as s:
        assert service.get_by_reference(s, reference).assignee == "zhapu"
    assert run(capsys, "update", reference, "--to", "in_progress", "--by", "", "--role", "station") == (
        1, "", "请用 --by 写明操作的工作人员姓名。\n")


def test_extend_and_tasks(db, capsys):
    reference = file(db, channel="rest", sender_id="u1")
    assert run(capsys, "extend", reference, "--days", "2", "--reason", "调档案", "--by", "王五",
               "--role", "hotline") == (1, "", "延期要由分管领导（leader）批准。\n")
    assert run(capsys, "extend", reference, "--days", "2", "--reason", "调档案", "--by", "李局") == (
        0, f"诉求 {reference} 已延期到 2026-12-07。批准人：李局\n", "")
    code, out, _ = run(capsys, "tasks")
    assert out.splitlines()[0].endswith(f"诉求延期（电话告知）  编号 {reference}")
    assert run(capsys, "tasks", "--done", "1", "--by", "王五") == (0, "第 1 条已登记为已办。操作人：王五\n", "")
    assert run(capsys, "tasks") == (0, "没有诉求待办。\n", "")


def test_show_gives_the_phone_and_the_trail_but_never_a_clear_id(db, capsys):
    reference = file(db, description=f"身份证{ID_NUMBER}的优待金")
    move(db, reference, "dispatched", assignee="zhapu")
    code, out, _ = run(capsys, "show", reference)
    assert code == 0 and ID_NUMBER not in out
    assert "手机      13812345678" in out.splitlines()
    assert out.splitlines()[-1].endswith("staff:王五（hotline）  已受理 → 已派单，期限 2026-12-03")


def test_stats_on_a_fixed_set(db, capsys):
    """Zhapu: one closed on time and satisfied after one 重办; one overdue. Xincang: one closed
    late, satisfied. On 4 Dec."""
    good = file(db, key="a")
    move(db, good, "answered")
    move(db, good, "follow_up")
    move(db, good, "in_progress", "veteran", note="还没到账")
    move(db, good, "answered", "station")
    move(db, good, "follow_up")
    move(db, good, "closed", "veteran")
    file(db, key="b")  # deadline 3 Dec, still open on 4 Dec
    slow = file(db, key="c", town="新仓", category="zhengce")
    move(db, slow, "answered", when=at(date(2026, 12, 4)))  # after its 3 Dec deadline
    move(db, slow, "follow_up", when=at(date(2026, 12, 4)))
    move(db, slow, "closed", "veteran", when=at(date(2026, 12, 4)))
    rows = json.loads(run(capsys, "stats", "--json")[1])
    assert rows == [
        {"town": "乍浦镇退役军人服务站", "total": 2, "closed": 1, "on_time": 1, "late": 1, "satisfied": 1,
         "unsatisfied": 1, "on_time_rate": 0.5, "satisfaction_rate": 0.5},
        {"town": "新仓镇退役军人服务站", "total": 1, "closed": 1, "on_time": 0, "late": 1, "satisfied": 1,
         "unsatisfied": 0, "on_time_rate": 0.0, "satisfaction_rate": 1.0},
    ]
    by_category = json.loads(run(capsys, "stats", "--json", "--by", "category")[1])
    assert [(r["category"], r["total"], r["on_time_rate"]) for r in by_category] == [
        ("待遇落实", 2, 0.5), ("政策咨询", 1, 0.0)]
    assert json.loads(run(capsys, "stats", "--json", "--by", "month")[1])[0]["month"] == "2026-12"
    assert run(capsys, "stats", "--by", "month")[1].splitlines() == [
        "月份  件数  办结  按期  超期  按期率  满意  不满意  满意率",
        "2026-12  3  2  1  2  33.3%  2  1  66.7%"]
