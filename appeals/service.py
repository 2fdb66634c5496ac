"""The appeal service: every function takes an open session (vetbot.storage.session_scope) and
plain values and leaves committing to the caller, so the chat, the console and the CLI share it
(as booking/service.py). Every change writes an AppealEvent (the append-only trail), and a change
the veteran must hear of queues its notice in the same transaction (appeals/notices.py).

Deadlines are working days (appeals/workflow.py). When the holiday calendar does not know the year
a deadline falls in, the appeal is still saved or moved — nothing a veteran reports may be lost —
with no deadline, and the event's note says why."""
from __future__ import annotations

import logging
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from appeals import notices
from appeals.models import ADDED, EXTENDED, FILED, MOVED, NOTED, Appeal, AppealEvent
from appeals.stats import stats
from appeals.texts import next_steps_text, status_text
from appeals.workflow import CalendarUnknown, Workflow, add_working_days, load_workflow
from booking import reference as ref
from booking.calendar import TZ
from booking.models import Booking
from booking.service import catalogue
from booking.pii import normalize_phone, redact
from vetbot.storage.base import utcnow

logger = logging.getLogger(__name__)
VETERAN, HOTLINE = "veteran", "hotline"


class AppealError(Exception):
    """A refusal the chat, console or CLI can show as is (Chinese, short)."""


class NotFound(AppealError):
    def __init__(self) -> None:
        super().__init__("没有找到这个诉求，请核对编号。")


class Refusal(AppealError):
    """A state or category staff named that the workflow does not have; the console answers it
    400, other AppealErrors 409."""


def state_id(text: str) -> str:
    """A state by id or by label (已派单)."""
    workflow = load_workflow()
    for state in workflow.states.values():
        if text in (state.id, state.label):
            return state.id
    known = "、".join(f"{s.id}（{s.label}）" for s in workflow.states.values())
    raise Refusal(f"没有“{text}”这个状态。可以是：{known}")


def category_id(text: str | None) -> str | None:
    """A category by id or by label (生活困难)."""
    if text is None:
        return None
    workflow = load_workflow()
    for category in workflow.categories:
        if text in (category.id, category.label):
            return category.id
    known = "、".join(f"{c.id}（{c.label}）" for c in workflow.categories)
    raise Refusal(f"没有“{text}”这个分类。可以是：{known}")


def assignee_id(text: str | None) -> str | None:
    """Who handles an appeal, as stored: a station by its id or a place in its town (乍浦 → zhapu);
    a department or a person as written."""
    if not text:
        return text
    places = catalogue()
    if any(loc.id == text for loc in places.locations):
        return text
    station = places.nearest_location(text)
    return station.id if station else text


def _insert(session: Session):
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _local_day(moment: datetime) -> date:
    return moment.astimezone(TZ).date()


def _deadline(workflow: Workflow, state: str, category: str, day: date) -> tuple[date | None, str | None]:
    """The state's deadline from `day`, or (None, why) when the calendar cannot count it."""
    try:
        return workflow.deadline(state, category, day), None
    except CalendarUnknown as unknown:
        logger.warning("appeal deadline not computed: %s", unknown)
        return None, str(unknown)


def file_appeal(session: Session, *, description: str, category: str, name: str, phone: str,
                town: str, visit_wanted: bool, urgent_signals, channel: str | None,
                sender_id: str | None, dedupe_key: str, actor: str,
                now: datetime | None = None) -> Appeal:
    """Save a new appeal in the initial state; ValueError for an empty field, unknown category or
    malformed phone. Idempotent on `dedupe_key` (the channel's message id, or a hash of sender +
    text + minute): the same key returns the appeal already saved and adds nothing, also when two
    processes file it at once (INSERT … ON CONFLICT DO NOTHING on the unique key)."""
    workflow = load_workflow()
    description, name, town = redact(description.strip()), name.strip(), town.strip()
    if not (description and name and town and dedupe_key and actor):
        raise ValueError("description, name, town, dedupe_key and actor are required")
    try:
        workflow.category(category)
    except KeyError:
        raise ValueError(f"unknown category {category!r}") from None
    phone, signals, now = normalize_phone(phone), list(urgent_signals or ()), now or utcnow()
    deadline, why = _deadline(workflow, workflow.initial, category, _local_day(now))
    inserted = session.execute(_insert(session)(Appeal).values(
        reference=_unused_reference(session), description=description, category=category,
        urgent=bool(signals), urgent_signals=signals, name=name, phone=phone, town=town,
        station_code=_station_of(town), visit_wanted=bool(visit_wanted), status=workflow.initial,
        deadline=deadline, late=False, channel=channel, sender_id=sender_id,
        dedupe_key=dedupe_key, created_at=now, updated_at=now,
    ).on_conflict_do_nothing(index_elements=["dedupe_key"]))
    appeal = session.execute(select(Appeal).where(Appeal.dedupe_key == dedupe_key)
                             .execution_options(populate_existing=True)).scalar_one()
    if inserted.rowcount == 1:
        session.add(AppealEvent(appeal=appeal, at=now, actor=actor, role=_filer_role(actor),
                                action=FILED, to_state=workflow.initial, deadline=deadline, note=why))
        session.flush()
        if appeal.urgent:
            notices.alert_urgent(session, appeal)
    return appeal


def _filer_role(actor: str) -> str:
    # The veteran in the chat, or staff taking it on the phone.
    return VETERAN if actor.startswith("veteran:") else HOTLINE


def _unused_reference(session: Session) -> str:
    """A reference used by no appeal and no booking, so a number a veteran reads out is one thing."""
    while True:
        candidate = ref.new_reference()
        if (session.execute(select(Appeal.id).where(Appeal.reference == candidate)).first() is None
                and session.execute(select(Booking.id).where(Booking.reference == candidate)).first() is None):
            return candidate


def _station_of(town: str) -> str | None:
    location = catalogue().nearest_location(town)
    return location.id if location else None


def get_by_reference(session: Session, reference: str, *, phone: str | None = None) -> Appeal | None:
    """The appeal with this reference; with `phone`, only if it was filed with that phone
    (a veteran's look-up: a wrong phone looks exactly like a wrong reference)."""
    if not ref.is_valid(reference):
        return None
    appeal = session.execute(select(Appeal).where(Appeal.reference == ref.normalize(reference))
                             ).scalar_one_or_none()
    if appeal is None or (phone is not None and appeal.phone != _phone_or_none(phone)):
        return None
    return appeal


def _phone_or_none(phone: str) -> str | None:
    try:
        return normalize_phone(phone)
    except ValueError:
        return None


def find_by_phone(session: Session, phone: str, open_only: bool = True) -> list[Appeal]:
    """Appeals filed with this phone, newest first; only those not yet closed unless asked."""
    query = select(Appeal).where(Appeal.phone == normalize_phone(phone))
    if open_only:
        query = query.where(Appeal.status.in_(_open_states()))
    return list(session.execute(query.order_by(Appeal.created_at.desc(), Appeal.id.desc())).scalars())


def _open_states() -> list[str]:
    workflow = load_workflow()
    return [s for s in workflow.states if not workflow.final(s)]


def _for_change(session: Session, reference: str) -> Appeal:
    """The appeal, locked until the transaction ends (PostgreSQL; SQLite's write lock is already
    held) and re-read, so two concurrent changes apply one after the other."""
    appeal = None
    if ref.is_valid(reference):
        appeal = session.execute(
            select(Appeal).where(Appeal.reference == ref.normalize(reference))
            .with_for_update(of=Appeal).execution_options(populate_existing=True)
        ).scalar_one_or_none()
    if appeal is None:
        raise NotFound()
    return appeal


def add_to_appeal(session: Session, reference: str, text: str, *, actor: str,
                  dedupe_key: str | None = None, now: datetime | None = None) -> AppealEvent | None:
    """A veteran's addition (补充) to an open appeal, kept as an event (ID numbers and phones
    masked); the assignee gets a task to read it. With `dedupe_key`, the same message delivered
    twice is kept once (None the second time)."""
    text = redact(text.strip())
    if not text:
        raise ValueError("text is required")
    appeal = _for_change(session, reference)
    if load_workflow().final(appeal.status):
        raise AppealError("这件事已经办结了。有新的情况，请重新反映。")
    now = now or utcnow()
    if dedupe_key is not None:
        added = session.execute(_insert(session)(AppealEvent).values(
            appeal_id=appeal.id, at=now, actor=actor, role=_filer_role(actor), action=ADDED,
            note=text, deadline=appeal.deadline, dedupe_key=dedupe_key,
        ).on_conflict_do_nothing(index_elements=["dedupe_key"]))
        if added.rowcount != 1:
            return None
        event = session.execute(select(AppealEvent).where(AppealEvent.dedupe_key == dedupe_key)).scalar_one()
        session.expire(appeal, ["events"])  # inserted beside the ORM: read again when next needed
    else:
        event = AppealEvent(appeal=appeal, at=now, actor=actor, role=_filer_role(actor),
                            action=ADDED, note=text, deadline=appeal.deadline)
        session.add(event)
    appeal.updated_at = now
    session.flush()
    notices.tell_assignee_of_addition(session, appeal, event)
    return event


def add_staff_note(session: Session, reference: str, text: str, *, actor: str, role: str,
                   now: datetime | None = None) -> AppealEvent:
    """A staff member's own record on an appeal (a call made, what was checked), masked, kept as a
    NOTED event. Unlike add_to_appeal (the veteran's 补充) it gives the assignee no task and may be
    written on a closed appeal too; it changes neither the state nor the deadline."""
    workflow = load_workflow()
    if role not in workflow.roles:
        raise AppealError(f"没有“{role}”这个角色。可以是：{_roles_text(workflow, workflow.roles)}")
    text = redact(text.strip())
    if not text:
        raise ValueError("text is required")
    appeal = _for_change(session, reference)
    now = now or utcnow()
    event = AppealEvent(appeal=appeal, at=now, actor=actor, role=role, action=NOTED, note=text,
                        deadline=appeal.deadline)
    session.add(event)
    appeal.updated_at = now
    session.flush()
    return event


def transition(session: Session, reference: str, to_state: str, *, actor: str, role: str,
               note: str | None = None, assignee: str | None = None,
               now: datetime | None = None) -> Appeal:
    """One step of the workflow; AppealError with the reason when the step is not allowed from
    the current state, not for this role, or lacks its note or assignee. A step taken after the
    deadline marks the appeal late (on-time rate). The new state's deadline counts from today."""
    workflow = load_workflow()
    if role not in workflow.roles:
        raise AppealError(f"没有“{role}”这个角色。可以是：{_roles_text(workflow, workflow.roles)}")
    if to_state not in workflow.states:
        raise AppealError(f"没有“{to_state}”这个状态。可以是：{'、'.join(workflow.states)}")
    appeal = _for_change(session, reference)
    step = workflow.transition(appeal.status, to_state)
    if step is None:
        raise AppealError(_not_allowed(workflow, appeal, to_state))
    if role not in step.roles:
        raise AppealError(f"“{step.name}”只能由{_roles_text(workflow, step.roles)}来做，"
                          f"{workflow.roles[role]}不能做。")
    note = redact(note.strip()) if note and note.strip() else None
    assignee = assignee.strip() if assignee and assignee.strip() else None
    if step.note_required and not note:
        raise AppealError(f"“{step.name}”要写明原因。")
    if step.assignee_required and not assignee:
        raise AppealError(f"“{step.name}”要写明交给哪个单位或哪位工作人员。")
    now = now or utcnow()
    today = _local_day(now)
    if appeal.deadline is not None and today > appeal.deadline:
        appeal.late = True
    before = appeal.status
    deadline, why = _deadline(workflow, to_state, appeal.category, today)
    appeal.status, appeal.deadline, appeal.updated_at = to_state, deadline, now
    if assignee:
        appeal.assignee = assignee
    event = AppealEvent(appeal=appeal, at=now, actor=actor, role=role, action=MOVED,
                        from_state=before, to_state=to_state, deadline=deadline,
                        note="；".join(filter(None, (note, why))) or None)
    session.add(event)
    session.flush()
    notices.tell_progress(session, appeal, event, today)
    return appeal


def _roles_text(workflow: Workflow, roles) -> str:
    return "、".join(f"{workflow.roles[r]}（{r}）" for r in roles)


def _not_allowed(workflow: Workflow, appeal: Appeal, to_state: str) -> str:
    here, there = workflow.state(appeal.status).label, workflow.state(to_state).label
    options = workflow.next_states(appeal.status)
    if not options:
        return f"诉求 {appeal.reference} 已经{here}，不能再改。"
    allowed = "、".join(f"{workflow.state(t.target).label}（{t.target}，{t.name}）" for t in options)
    return f"诉求 {appeal.reference} 现在是“{here}”，不能改为“{there}”。可以改为：{allowed}。"


def extend(session: Session, reference: str, *, days: int, reason: str, approver: str,
           role: str, now: datetime | None = None) -> Appeal:
    """Extend the current deadline by `days` working days (延期): needs a reason and an approver
    whose role may approve; the veteran is told, with the reason."""
    workflow = load_workflow()
    if role not in workflow.extension_roles:
        raise AppealError(f"延期要由{_roles_text(workflow, workflow.extension_roles)}批准。")
    if not reason or not reason.strip():
        raise AppealError("延期要写明原因。")
    if not 1 <= days <= workflow.max_extension_days:
        raise AppealError(f"延期天数应是 1 到 {workflow.max_extension_days} 个工作日。")
    appeal = _for_change(session, reference)
    if appeal.deadline is None:
        raise AppealError(f"诉求 {appeal.reference} 现在没有期限，不用延期。")
    try:
        deadline = add_working_days(appeal.deadline, days)
    except CalendarUnknown as unknown:
        raise AppealError(str(unknown)) from None
    now = now or utcnow()
    appeal.deadline, appeal.updated_at = deadline, now
    event = AppealEvent(appeal=appeal, at=now, actor=approver, role=role, action=EXTENDED,
                        from_state=appeal.status, to_state=appeal.status, deadline=deadline,
                        note=redact(reason.strip()))
    session.add(event)
    session.flush()
    notices.tell_extension(session, appeal, event)
    return appeal


def list_appeals(session: Session, *, statuses=None, category: str | None = None,
                 station_code: str | None = None, urgent: bool | None = None,
                 overdue_on: date | None = None, open_only: bool = False) -> list[Appeal]:
    """Appeals matching every filter given, in queue order: urgent first, then the nearest
    deadline (none last), then the oldest. `overdue_on`: open and past their deadline that day."""
    query = select(Appeal)
    if open_only or overdue_on is not None:
        query = query.where(Appeal.status.in_(_open_states()))
    if statuses is not None:
        query = query.where(Appeal.status.in_(statuses))
    if category is not None:
        query = query.where(Appeal.category == category)
    if station_code is not None:
        query = query.where(Appeal.station_code == station_code)
    if urgent is not None:
        query = query.where(Appeal.urgent.is_(urgent))
    if overdue_on is not None:
        query = query.where(Appeal.deadline < overdue_on)
    return list(session.execute(query.order_by(
        Appeal.urgent.desc(), Appeal.deadline.is_(None), Appeal.deadline, Appeal.created_at, Appeal.id
    )).scalars())


def queue(session: Session) -> list[Appeal]:
    """What staff work through: every open appeal, urgent first, then by deadline."""
    return list_appeals(session, open_only=True)


def overdue(session: Session, today: date) -> list[Appeal]:
    """Open appeals whose deadline is before `today`, in queue order."""
    return list_appeals(session, overdue_on=today)


def awaiting_feedback(session: Session, *, channel: str | None, sender_id: str) -> list[Appeal]:
    """This conversation's appeals that wait for the veteran's 满意 / 不满意 (the 回访 question went
    to the channel they filed on), oldest first."""
    return list(session.execute(
        select(Appeal).where(Appeal.channel == channel, Appeal.sender_id == sender_id,
                             Appeal.status == load_workflow().follow_up_state)
        .order_by(Appeal.created_at, Appeal.id)).scalars())


def answer_follow_up(session: Session, reference: str, *, satisfied: bool, said: str,
                     actor: str) -> Appeal:
    """The veteran's answer to 回访: satisfied closes the appeal; not satisfied sends it back to
    work (重办) with their words as the reason."""
    workflow = load_workflow()
    targets = [t.target for t in workflow.next_states(workflow.follow_up_state)]
    to_state = next(t for t in targets if workflow.final(t) == satisfied)
    return transition(session, reference, to_state, actor=actor, role="veteran",
                      note=None if satisfied else (said.strip() or "不满意"))


def remind_overdue(session: Session, today: date) -> int:
    """A 催办 task to the assignee of each overdue appeal, once per appeal and day; how many new."""
    return sum(notices.chase(session, appeal, today) for appeal in overdue(session, today))


__all__ = [
    "NOTED", "AppealError", "NotFound", "Refusal", "add_staff_note", "add_to_appeal", "answer_follow_up",
    "assignee_id", "awaiting_feedback", "category_id", "extend", "file_appeal", "find_by_phone",
    "get_by_reference", "list_appeals", "next_steps_text", "overdue", "queue", "remind_overdue",
    "state_id", "stats", "status_text", "transition",
]
