"""Appeals in the console API (console/routes_appeals.py) over the real appeal service and
workflow, logged in through the real auth: filters, the steps offered per role, illegal steps
refused with the workflow's reason, notes, assignment, extension (admin only), the CSV, masking and
the audit rows."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from booking.calendar import TZ
from vetbot.staff_tasks import StaffTask
from tests.appeals.helpers import PHONE, file
from vetbot.storage import session_scope

OTHER_PHONE = "13998765432"


@pytest.fixture
def appeals(console_db):
    """An ordinary one filed today at 乍浦, an urgent one at 新仓, and one filed a month ago (overdue)."""
    today = datetime.now(TZ)
    return {
        "plain": file(console_db, key="a", when=today),
        "urgent": file(console_db, key="b", signals=["hardship"], category="kunnan", town="新仓镇",
                       phone=OTHER_PHONE, when=today, description="家里没饭吃了，电话13998765432"),
        "overdue": file(console_db, key="c", category="zhengce", town="乍浦", when=today - timedelta(days=30)),
    }


def references(client, **params) -> list[str]:
    answer = client.get("/api/appeals", params=params)
    assert answer.status_code == 200, answer.text
    return [a["reference"] for a in answer.json()["items"]]


def test_list_filters_in_queue_order(staff_client, appeals):
    client = staff_client()
    listed = references(client)
    assert listed[0] == appeals["urgent"] and sorted(listed) == sorted(appeals.values())  # urgent first
    assert references(client, urgent="true") == [appeals["urgent"]]
    assert references(client, overdue="true") == [appeals["overdue"]]
    assert references(client, category="生活困难") == [appeals["urgent"]]
    assert references(client, category="zhengce") == [appeals["overdue"]]
    assert sorted(references(client, town="乍浦")) == sorted([appeals["plain"], appeals["overdue"]])
    assert references(client, status="已派单") == []
    page = client.get("/api/appeals", params={"limit": 2, "offset": 2}).json()
    assert page["total"] == 3 and len(page["items"]) == 1
    refused = client.get("/api/appeals", params={"category": "天气"})
    assert refused.status_code == 400 and "没有“天气”这个分类" in refused.json()["detail"]


def test_assignee_filter_and_assign_audited(staff_client, appeals, audit_rows):
    client = staff_client(username="wangwu")
    assigned = client.post(f"/api/appeals/{appeals['plain']}/assign", json={"assignee": "乍浦"})
    assert assigned.status_code == 200, assigned.text
    body = assigned.json()
    assert (body["status"], body["assignee"], body["assignee_label"]) == ("dispatched", "zhapu", "乍浦镇退役军人服务站")
    assert references(client, assignee="乍浦") == [appeals["plain"]]
    assert references(client, assignee="zhapu") == [appeals["plain"]]
    assert references(client, assignee="局优抚科") == []
    assert audit_rows("appeal_assign") == [("wangwu", "appeal_assign", "appeal", appeals["plain"])]
    again = client.post(f"/api/appeals/{appeals['plain']}/assign", json={"assignee": "新仓"})
    assert again.status_code == 409 and "现在是“已派单”，不能派单" in again.json()["detail"]


def test_steps_offered_follow_the_role(staff_client, appeals):
    operator, admin = staff_client(), staff_client("admin")
    detail = operator.get(f"/api/appeals/{appeals['plain']}").json()
    assert [s["to_state"] for s in detail["next_steps"]] == ["dispatched", "answered"]
    assert detail["next_steps"][0]["assignee_required"] is True
    assert detail["can_extend"] is False and admin.get(f"/api/appeals/{appeals['plain']}").json()["can_extend"] is True
    operator.post(f"/api/appeals/{appeals['plain']}/transition", json={"to_state": "dispatched", "assignee": "乍浦"})
    # 签收 / 退单 are the station's (or the leader's): none for a hotline operator, all for an admin
    assert operator.get(f"/api/appeals/{appeals['plain']}").json()["next_steps"] == []
    assert [s["to_state"] for s in admin.get(f"/api/appeals/{appeals['plain']}").json()["next_steps"]] == [
        "in_progress", "visit_pending", "accepted"]


def test_illegal_steps_refused_with_the_workflows_reason(staff_client, appeals, audit_rows):
    operator, admin = staff_client(username="wangwu"), staff_client("admin")
    skipped = operator.post(f"/api/appeals/{appeals['plain']}/transition", json={"to_state": "in_progress"})
    assert skipped.status_code == 409
    assert skipped.json()["detail"] == (f"诉求 {appeals['plain']} 现在是“已受理”，不能改为“处理中”。"
                                        "可以改为：已派单（dispatched，派单）、已答复（answered，直接答复）。")
    no_assignee = operator.post(f"/api/appeals/{appeals['plain']}/transition", json={"to_state": "dispatched"})
    assert no_assignee.status_code == 409 and no_assignee.json()["detail"] == "“派单”要写明交给哪个单位或哪位工作人员。"
    assert operator.post(f"/api/appeals/{appeals['plain']}/transition",
                         json={"to_state": "dispatched", "assignee": "乍浦"}).status_code == 200
    not_yours = operator.post(f"/api/appeals/{appeals['plain']}/transition", json={"to_state": "in_progress"})
    assert not_yours.status_code == 409
    assert not_yours.json()["detail"] == "“签收”只能由承办单位（服务站、科室）（station）、分管领导（leader）来做，受理工作人员不能做。"
    no_reason = admin.post(f"/api/appeals/{appeals['plain']}/transition", json={"to_state": "accepted"})
    assert no_reason.status_code == 409 and no_reason.json()["detail"] == "“退单”要写明原因。"
    signed = admin.post(f"/api/appeals/{appeals['plain']}/transition", json={"to_state": "in_progress"})
    assert signed.status_code == 200 and signed.json()["status"] == "in_progress"
    assert audit_rows("appeal_transition") == [
        ("wangwu", "appeal_transition", "appeal", appeals["plain"]),
        (admin.staff["username"], "appeal_transition", "appeal", appeals["plain"])]


def test_notes_masked_kept_as_staff_records_and_audited(staff_client, appeals, audit_rows):
    client = staff_client(username="wangwu")
    client.post(f"/api/appeals/{appeals['plain']}/assign", json={"assignee": "乍浦"})
    noted = client.post(f"/api/appeals/{appeals['plain']}/notes",
                        json={"text": "老兵来电补充：新号码13711112222，身份证330482195001011234"})
    assert noted.status_code == 200, noted.text
    last = noted.json()["events"][-1]
    assert (last["actor"], last["role"], last["action"]) == ("staff:wangwu", "hotline", "noted")
    assert last["text"] == "工作人员记录：老兵来电补充：新号码137****2222，身份证330482********1234"
    assert noted.json()["status"] == "dispatched"  # a note is not a step
    assert "13711112222" not in noted.text and "330482195001011234" not in noted.text
    with session_scope() as session:  # the station gets no 【老兵补充】 task for a staff note
        assert session.execute(select(StaffTask.text).where(StaffTask.reference == appeals["plain"],
                                                            StaffTask.text.like("%补充%"))).all() == []
    assert audit_rows("appeal_note") == [("wangwu", "appeal_note", "appeal", appeals["plain"])]
    empty = client.post(f"/api/appeals/{appeals['plain']}/notes", json={"text": "   "})
    assert empty.status_code == 400 and empty.json()["detail"] == "请写上内容。"


def test_extend_is_for_admins(staff_client, appeals, audit_rows):
    operator, admin = staff_client(), staff_client("admin", username="leader1")
    body = {"days": 2, "reason": "需要到市里核实档案"}
    refused = operator.post(f"/api/appeals/{appeals['plain']}/extend", json=body)
    assert refused.status_code == 403 and refused.json()["detail"] == "需要管理员权限"
    before = admin.get(f"/api/appeals/{appeals['plain']}").json()["deadline"]
    extended = admin.post(f"/api/appeals/{appeals['plain']}/extend", json=body)
    assert extended.status_code == 200, extended.text
    assert extended.json()["deadline"] > before
    assert extended.json()["events"][-1]["action"] == "extended"
    assert audit_rows("appeal_extend") == [("leader1", "appeal_extend", "appeal", appeals["plain"])]
    too_long = admin.post(f"/api/appeals/{appeals['plain']}/extend", json={"days": 99, "reason": "x"})
    assert too_long.status_code == 409 and "延期天数应是 1 到 10 个工作日" in too_long.json()["detail"]


def test_phones_masked_everywhere(staff_client, appeals):
    client = staff_client()
    for answer in (client.get("/api/appeals"), client.get(f"/api/appeals/{appeals['urgent']}"),
                   client.get("/api/appeals.csv")):
        assert answer.status_code == 200
        text = answer.content.decode("utf-8-sig")
        assert PHONE not in text and OTHER_PHONE not in text
    detail = client.get(f"/api/appeals/{appeals['urgent']}").json()
    assert detail["phone"] == "139****5432" and "139****5432" in detail["description"]


def test_csv_is_excel_ready_filtered_and_audited(staff_client, appeals, audit_rows):
    client = staff_client(username="wangwu")
    answer = client.get("/api/appeals.csv", params={"urgent": "true"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith(b"\xef\xbb\xbf")
    lines = answer.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("编号,紧急,分类,状态,期限")
    assert [line.split(",")[0] for line in lines[1:]] == [appeals["urgent"]]
    assert "139****5432" in lines[1]
    assert audit_rows("export") == [("wangwu", "export", "appeal", None)]


def test_view_audited_unknown_appeal_and_page(console_client, staff_client, appeals, audit_rows):
    client = staff_client(username="wangwu")
    assert client.get(f"/api/appeals/{appeals['plain']}").status_code == 200
    assert audit_rows("view_appeal") == [("wangwu", "view_appeal", "appeal", appeals["plain"])]
    missing = client.get("/api/appeals/ZZZZZZZ")
    assert missing.status_code == 404 and missing.json()["detail"] == "没有找到这个诉求，请核对编号。"
    assert console_client.get("/appeals", follow_redirects=False).status_code == 303
    page = client.get("/appeals")
    assert page.status_code == 200 and "/static/appeals.js" in page.text
