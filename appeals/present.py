"""How staff see an appeal, the same in `vetbot appeals` (appeals/cli.py) and the console
(console/routes_appeals.py): one dict per appeal, the CSV, a trail event and its words.

Descriptions and notes were stored with ID numbers and phones masked; the phone of the appeal is
masked unless the caller asks for it in full. Times are Asia/Shanghai."""
from __future__ import annotations

import csv
import io
from datetime import date

from appeals.models import ADDED, EXTENDED, FILED, MOVED, NOTED
from appeals.texts import assignee_text
from appeals.workflow import load_workflow
from booking.present import local_time

CSV_HEADER = ["编号", "紧急", "分类", "状态", "期限", "超期", "承办", "镇(街道)", "姓名", "手机", "上门",
              "渠道", "登记时间", "诉求内容"]


def as_dict(appeal, show_phone: bool, today: date) -> dict:
    """One appeal as staff see it: the phone masked unless asked; overdue as of `today`."""
    workflow = load_workflow()
    return {
        "reference": appeal.reference,
        "urgent": appeal.urgent,
        "urgent_signals": list(appeal.urgent_signals),
        "category": appeal.category,
        "category_label": workflow.category(appeal.category).label,
        "status": appeal.status,
        "status_label": workflow.state(appeal.status).label,
        "deadline": appeal.deadline.isoformat() if appeal.deadline else None,
        "overdue": bool(appeal.deadline and appeal.deadline < today and not appeal.closed),
        "assignee": appeal.assignee,
        "assignee_label": assignee_text(appeal.assignee) if appeal.assignee else None,
        "town": appeal.town,
        "station_code": appeal.station_code,
        "name": appeal.name,
        "phone": appeal.phone if show_phone else appeal.phone_masked,
        "visit_wanted": appeal.visit_wanted,
        "channel": appeal.channel,
        "created_at": local_time(appeal.created_at),
        "description": appeal.description,
    }


def csv_text(records: list[dict]) -> str:
    """Appeals (as `as_dict` gives them) as CSV text, header first; the caller adds the BOM."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for r in records:
        writer.writerow([r["reference"], "是" if r["urgent"] else "", r["category_label"], r["status_label"],
                         r["deadline"] or "", "是" if r["overdue"] else "", r["assignee_label"] or "",
                         r["town"], r["name"], r["phone"], "是" if r["visit_wanted"] else "",
                         r["channel"] or "", r["created_at"], r["description"]])
    return out.getvalue()


def event_dict(event) -> dict:
    """One AppealEvent of the trail as plain values."""
    return {"at": local_time(event.at), "actor": event.actor, "role": event.role, "action": event.action,
            "from": event.from_state, "to": event.to_state,
            "deadline": event.deadline.isoformat() if event.deadline else None, "note": event.note}


def event_text(e: dict) -> str:
    """What one event (as `event_dict` gives it) did, in words, e.g. "已受理 → 已派单，期限 …：说明"."""
    workflow = load_workflow()
    if e["action"] == FILED:
        text = f"登记，{workflow.state(e['to']).label}"
    elif e["action"] == MOVED:
        text = f"{workflow.state(e['from']).label} → {workflow.state(e['to']).label}"
    else:
        text = {ADDED: "老兵补充", NOTED: "工作人员记录", EXTENDED: "延期"}[e["action"]]
    if e["deadline"] and e["action"] not in (ADDED, NOTED):
        text += f"，期限 {e['deadline']}"
    return f"{text}：{e['note']}" if e["note"] else text
