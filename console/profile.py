"""一人一档: one record per veteran (console.models Veteran), found by a phone or a channel sender id,
and everything the bureau has of that person: conversations, bookings, appeals, staff visits, notes.

A phone is kept as its keyed hash (booking.pii's `phone_key`, the one ConversationKey holds) plus
its mask; never in clear. Bookings and appeals
hold the phone in clear, so the record finds them by turning the hashes back into the numbers seen in
those tables (one HMAC per distinct phone; cheap at a bureau's scale, see `_phones_of`).

Merging two records of one person moves the identities and visits of one into the other and marks
it `merged_into`; whoever then finds the old one is sent on to the record it was merged into."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from appeals import service as appeal_service
from appeals.models import Appeal
from booking import service as booking_service
from booking.calendar import TZ
from booking.models import STATUSES, Booking
from booking.pii import mask_phone, normalize_phone, redact
from console.models import (
    Conversation, ConversationKey, StaffVisit, Veteran, VeteranIdentity,
)
from booking.pii import phone_key  # the key ConversationKey holds: one definition

PHONE, SENDER = "phone", "sender"
VISIT_KINDS = {"visit": "上门走访", "call": "电话回访"}
MAX_NOTE_CHARS = 2000


class ProfileError(ValueError):
    """A refusal staff can read as is (short Chinese)."""


def shown_sender(sender_id: str) -> str:
    """What staff see of a sender id: its start, enough to tell two apart."""
    return sender_id if len(sender_id) <= 10 else sender_id[:8] + "…"


def _clean_phone(phone: str) -> str:
    try:
        return normalize_phone(phone.strip())
    except ValueError:
        raise ProfileError("手机号应为11位数字，以1开头。") from None


def _identity(kind: str, value: str) -> tuple[str, str]:
    """(stored value, shown) of a phone or a sender id."""
    if kind == PHONE:
        phone = _clean_phone(value)
        return phone_key(phone), mask_phone(phone)
    if kind == SENDER:
        sender = value.strip()
        if not sender or len(sender) > 255:
            raise ProfileError("会话编号不对。")
        return sender, shown_sender(sender)
    raise ProfileError("只能按手机号或会话编号查找。")


def current(session: Session, veteran: Veteran) -> Veteran:
    """The record a merged one now lives in (follows merged_into)."""
    seen = set()
    while veteran.merged_into is not None and veteran.id not in seen:
        seen.add(veteran.id)
        veteran = session.get(Veteran, veteran.merged_into)
    return veteran


def find(session: Session, kind: str, value: str) -> Veteran | None:
    stored, _ = _identity(kind, value)
    identity = session.execute(select(VeteranIdentity).where(
        VeteranIdentity.kind == kind, VeteranIdentity.value == stored)).scalar_one_or_none()
    return current(session, session.get(Veteran, identity.veteran_id)) if identity else None


def find_or_create(session: Session, kind: str, value: str, name: str | None = None) -> tuple[Veteran, bool]:
    """The record of this phone / sender id, made when there is none; (record, created)."""
    veteran = find(session, kind, value)
    if veteran is not None:
        if name and not veteran.name:
            veteran.name = name.strip()[:64]
        return veteran, False
    stored, shown = _identity(kind, value)
    veteran = Veteran(name=(name or "").strip()[:64] or None)
    session.add(veteran)
    session.flush()
    session.add(VeteranIdentity(veteran_id=veteran.id, kind=kind, value=stored, shown=shown))
    session.flush()
    return veteran, True


def get(session: Session, veteran_id: int) -> Veteran:
    veteran = session.get(Veteran, veteran_id)
    if veteran is None:
        raise ProfileError("没有找到这份档案。")
    return current(session, veteran)


def add_identity(session: Session, veteran: Veteran, kind: str, value: str) -> VeteranIdentity:
    """Another phone or sender id of the same person; refused when it is another record's
    (merge them instead)."""
    stored, shown = _identity(kind, value)
    existing = session.execute(select(VeteranIdentity).where(
        VeteranIdentity.kind == kind, VeteranIdentity.value == stored)).scalar_one_or_none()
    if existing is not None:
        if current(session, session.get(Veteran, existing.veteran_id)).id == veteran.id:
            return existing
        raise ProfileError(f"{shown} 已经登记在另一份档案（编号 {existing.veteran_id}）里；是同一个人的话请合并档案。")
    identity = VeteranIdentity(veteran_id=veteran.id, kind=kind, value=stored, shown=shown)
    session.add(identity)
    session.flush()
    return identity


def update(session: Session, veteran: Veteran, *, name: str | None = None, notes: str | None = None) -> None:
    if name is not None:
        veteran.name = name.strip()[:64] or None
    if notes is not None:
        if len(notes) > MAX_NOTE_CHARS:
            raise ProfileError(f"备注最多{MAX_NOTE_CHARS}字。")
        veteran.notes = redact(notes.strip()) or None


def add_visit(session: Session, veteran: Veteran, *, day: date, kind: str, note: str, staff: str) -> StaffVisit:
    if kind not in VISIT_KINDS:
        raise ProfileError("走访方式只能是上门走访或电话回访。")
    note = redact(note.strip())
    if not note:
        raise ProfileError("请写走访情况。")
    if len(note) > MAX_NOTE_CHARS:
        raise ProfileError(f"走访情况最多{MAX_NOTE_CHARS}字。")
    if day > datetime.now(TZ).date():
        raise ProfileError("走访日期不能晚于今天。")
    visit = StaffVisit(veteran_id=veteran.id, day=day, kind=kind, staff=staff, note=note)
    session.add(visit)
    session.flush()
    return visit


def merge(session: Session, keep: Veteran, other: Veteran) -> None:
    """`other` is the same person as `keep`: its identities and visits move to `keep`, its name
    and notes fill what `keep` lacks, and it is marked merged into `keep`."""
    keep, other = current(session, keep), current(session, other)
    if keep.id == other.id:
        raise ProfileError("这是同一份档案，不用合并。")
    for identity in session.execute(select(VeteranIdentity).where(VeteranIdentity.veteran_id == other.id)).scalars():
        identity.veteran_id = keep.id
    for visit in session.execute(select(StaffVisit).where(StaffVisit.veteran_id == other.id)).scalars():
        visit.veteran_id = keep.id
    keep.name = keep.name or other.name
    if other.notes:
        keep.notes = f"{keep.notes}\n{other.notes}" if keep.notes else other.notes
    other.merged_into = keep.id
    session.flush()


# ---- the whole history ---------------------------------------------------------------------

@dataclass
class History:
    veteran: Veteran
    identities: list[VeteranIdentity]
    conversations: list[Conversation]
    bookings: list[Booking]
    appeals: list[Appeal]
    visits: list[StaffVisit]


def _phones_of(session: Session, hashes: set[str]) -> list[str]:
    """The clear phones in bookings and appeals whose keyed hash is one of `hashes`."""
    if not hashes:
        return []
    seen = set(session.execute(select(Booking.phone).distinct()).scalars())
    seen |= set(session.execute(select(Appeal.phone).distinct()).scalars())
    found = []
    for phone in sorted(seen):
        try:
            if phone_key(phone) in hashes:
                found.append(phone)
        except ValueError:  # a malformed phone stored long ago is nobody's key
            continue
    return found


def history(session: Session, veteran: Veteran) -> History:
    veteran = current(session, veteran)
    identities = list(session.execute(select(VeteranIdentity).where(
        VeteranIdentity.veteran_id == veteran.id).order_by(VeteranIdentity.id)).scalars())
    hashes = {i.value for i in identities if i.kind == PHONE}
    senders = {i.value for i in identities if i.kind == SENDER}

    bookings: dict[int, Booking] = {}
    appeals: dict[int, Appeal] = {}
    for phone in _phones_of(session, hashes):
        bookings.update((b.id, b) for b in booking_service.find_by_phone(session, phone, statuses=STATUSES))
        appeals.update((a.id, a) for a in appeal_service.find_by_phone(session, phone, open_only=False))
    if senders:
        bookings.update((b.id, b) for b in session.execute(
            select(Booking).where(Booking.sender_id.in_(senders))).scalars())
        appeals.update((a.id, a) for a in session.execute(
            select(Appeal).where(Appeal.sender_id.in_(senders))).scalars())

    # Conversations: its own sender ids, those where one of its phones was said, and those a
    # booking or appeal of the person came from.
    conversation_ids = set(senders)
    if hashes:
        conversation_ids |= set(session.execute(select(ConversationKey.sender_id).where(
            ConversationKey.key_hash.in_(hashes))).scalars())
    conversation_ids |= {row.sender_id for row in [*bookings.values(), *appeals.values()] if row.sender_id}
    conversations = list(session.execute(select(Conversation).where(
        Conversation.sender_id.in_(conversation_ids)).order_by(Conversation.last_at.desc())).scalars()) \
        if conversation_ids else []

    visits = list(session.execute(select(StaffVisit).where(StaffVisit.veteran_id == veteran.id)
                                  .order_by(StaffVisit.day.desc(), StaffVisit.id.desc())).scalars())
    return History(
        veteran, identities, conversations,
        sorted(bookings.values(), key=lambda b: (b.slot.date, b.slot.start_time), reverse=True),
        sorted(appeals.values(), key=lambda a: a.created_at, reverse=True), visits)


def search_records(session: Session, name: str, limit: int = 20) -> list[Veteran]:
    """Records whose name contains `name` (not merged ones)."""
    name = name.strip()
    if not name:
        return []
    return list(session.execute(select(Veteran).where(
        Veteran.merged_into.is_(None), Veteran.name.contains(name)).order_by(Veteran.id.desc())
        .limit(limit)).scalars())
