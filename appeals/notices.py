"""Notices about appeals, on the shared path (vetbot.notify: WeChat → outbox, other channels →
the staff call list) and staff tasks (vetbot.staff_tasks), once per dedupe key, in the caller's
transaction:

- to the veteran: a step by staff into a state marked `tell` in workflow.yml (派单, 走访, 化解,
  答复, the 回访 question), and an extension (延期) with its reason;
- to staff: an urgent appeal at once; a veteran's addition to the assignee; an overdue appeal
  (催办) to the assignee once per day."""
from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from appeals.models import Appeal, AppealEvent
from appeals.texts import day_text, status_text
from appeals.workflow import load_workflow
from appeals.urgency import label
from booking.pii import redact
from vetbot.notify import send_notice
from vetbot.staff_tasks import add_task

PROGRESS, EXTENDED = "appeal_progress", "appeal_extended"  # to the veteran
URGENT, ADDED, OVERDUE = "appeal_urgent", "appeal_added", "appeal_overdue"  # to staff
TASK_LABELS = {PROGRESS: "诉求进展（电话告知）", EXTENDED: "诉求延期（电话告知）", URGENT: "紧急诉求",
               ADDED: "老兵补充", OVERDUE: "催办"}


def _tell(session: Session, appeal: Appeal, kind: str, text: str, key: str) -> bool:
    return send_notice(session, channel=appeal.channel, sender_id=appeal.sender_id,
                       reference=appeal.reference, kind=kind, text=text, dedupe_key=key)


def tell_progress(session: Session, appeal: Appeal, event: AppealEvent, today: date) -> bool:
    """Tell the veteran the step `event` made, if its state is one they are told of."""
    state = load_workflow().state(appeal.status)
    if not state.tell:
        return False
    text = f"【诉求进展】您反映的事（编号 {appeal.reference}）：{status_text(appeal, today)}。"
    if state.ask:
        text += f"\n{state.ask}"
    return _tell(session, appeal, PROGRESS, text, f"appeal:{appeal.reference}:{event.id}")


def tell_extension(session: Session, appeal: Appeal, event: AppealEvent) -> bool:
    text = (f"【诉求延期】您反映的事（编号 {appeal.reference}）需要多一些时间办理，"
            f"期限延到{day_text(appeal.deadline)}。原因：{event.note}")
    return _tell(session, appeal, EXTENDED, text, f"appeal:{appeal.reference}:{event.id}")


def alert_urgent(session: Session, appeal: Appeal) -> bool:
    text = (f"【紧急诉求】{appeal.name} {appeal.phone_masked}（{appeal.town}）：{appeal.description}\n"
            f"紧急信号：{'、'.join(label(s) for s in appeal.urgent_signals)}。请马上联系老兵。")
    return add_task(session, kind=URGENT, reference=appeal.reference, text=text,
                    dedupe_key=f"urgent:{appeal.reference}")


def alert_urgent_chat(session: Session, *, channel: str | None, sender_id: str, text: str, signals: list[str],
                    day: date) -> bool:
    """Danger said in the chat reaches staff at once, before (and whether or not) a ticket is
    filed: the veteran may stop answering. Once per conversation and day; the words masked."""
    return add_task(session, kind=URGENT, reference=f"chat:{channel or 'chat'}:{sender_id}"[:64],
                    text=f"【紧急·对话中】{channel or 'chat'} 的老兵（{sender_id}）说：{redact(text)[:500]}\n"
                         f"紧急信号：{'、'.join(label(s) for s in signals)}。尚未留下联系方式的，请从对话里联系。",
                    dedupe_key=f"urgent-chat:{channel or 'chat'}:{sender_id}:{day.isoformat()}")


def tell_assignee_of_addition(session: Session, appeal: Appeal, event: AppealEvent) -> bool:
    return add_task(session, kind=ADDED, reference=appeal.reference, assignee=appeal.assignee,
                    text=f"【老兵补充】{event.note}", dedupe_key=f"added:{appeal.reference}:{event.id}")


def chase(session: Session, appeal: Appeal, today: date) -> bool:
    """The 催办 task for an overdue appeal: at most one per appeal and day."""
    workflow = load_workflow()
    text = (f"【催办】诉求 {appeal.reference}（{workflow.category(appeal.category).label}，"
            f"{workflow.state(appeal.status).label}）期限是{day_text(appeal.deadline)}，已经超期，请尽快办理。")
    return add_task(session, kind=OVERDUE, reference=appeal.reference, assignee=appeal.assignee,
                    text=text, dedupe_key=f"overdue:{appeal.reference}:{today.isoformat()}")
