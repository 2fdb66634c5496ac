"""Console API: the live conversation list (kept by console/feed.py from Rasa's event broker), one
conversation's transcript with what it is linked to, the live stream of changes, and the page "/".

The feed starts with the application (a startup hook of this router: FastAPI's include_router
passes it on to the app)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Optional

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel
from sqlalchemy import func, or_, select

from appeals.models import Appeal
from booking import reference
from booking.models import Booking
from booking.pii import normalize_phone
from console import audit, takeover
from console.auth import StaffPrincipal, current_staff
from console.feed import feed
from console.live import event_stream
from console.models import (
    CONVERSATION_STATES, WAITING, Conversation, ConversationKey, ConversationMessage, StaffAudit,
)
from console.types import as_utc
from booking.pii import key_of, phone_key
from vetbot.storage.base import utcnow
from vetbot.storage.engine import session_scope

router = APIRouter()
STATIC = Path(__file__).resolve().parent / "static"
VIEW_AUDIT_GAP = timedelta(minutes=10)
NUMBER_ONLY = re.compile(r"[\d\s\-+＋]+")


@router.on_event("startup")
async def _start_feed() -> None:
    feed.start()


@router.on_event("shutdown")
async def _stop_feed() -> None:
    await feed.stop()


class ConversationSummary(BaseModel):
    sender_id: str
    channel: Optional[str]
    identity_masked: Optional[str]
    last_message: Optional[str]
    last_at: Optional[datetime]
    last_user_at: Optional[datetime]
    state: str  # bot / waiting / staff
    holder: Optional[str]
    waiting_since: Optional[datetime]
    misses: int

    class Config:
        orm_mode = True


class ConversationList(BaseModel):
    items: list[ConversationSummary]
    next_before: Optional[datetime]  # pass as `before` for the next page; None: no more


class WaitingCount(BaseModel):
    waiting: int


class TranscriptLine(BaseModel):
    id: int
    at: datetime
    kind: str  # user / bot / staff / note
    text: str
    intent: Optional[str]
    confidence: Optional[float]
    sources: Optional[list]
    staff_name: Optional[str]

    class Config:
        orm_mode = True


class LinkedBooking(BaseModel):
    reference: str
    service_code: str
    location_code: str
    date: str
    start_time: str
    status: str
    phone_masked: str


class LinkedAppeal(BaseModel):
    reference: str
    category: str
    status: str
    urgent: bool
    deadline: Optional[str]
    created_at: datetime
    phone_masked: str


class ReplyWindow(BaseModel):
    last_user_at: Optional[datetime]
    open_until: Optional[datetime]  # WeChat: 48 h after the veteran's last message
    open: bool  # a staff reply can reach the veteran now
    path: str  # direct / template / none (console.takeover)
    notice: str  # one line for staff


class ConversationDetail(BaseModel):
    conversation: ConversationSummary
    messages: list[TranscriptLine]
    bookings: list[LinkedBooking]
    appeals: list[LinkedAppeal]
    reply_window: ReplyWindow


@router.get("/", include_in_schema=False)
def conversations_page(staff: StaffPrincipal = Depends(current_staff)) -> FileResponse:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/api/conversations", response_model=ConversationList, tags=["conversations"],
            summary="会话列表（最新活动在前）")
def list_conversations(
    state: Optional[str] = Query(None, regex=f"^({'|'.join(CONVERSATION_STATES)})$"),
    channel: Optional[str] = Query(None, max_length=32),
    q: Optional[str] = Query(None, max_length=100, description="消息文字、预约/诉求编号、完整的手机号或身份证号"),
    limit: int = Query(50, ge=1, le=200),
    before: Optional[datetime] = Query(None, description="只要最后活动早于此时间的（翻页）"),
    staff: StaffPrincipal = Depends(current_staff),
) -> ConversationList:
    query = select(Conversation).where(Conversation.last_at.is_not(None))
    if state:
        query = query.where(Conversation.state == state)
    if channel:
        query = query.where(Conversation.channel == channel)
    if before:
        query = query.where(Conversation.last_at < as_utc(before))
    with session_scope() as session:
        if q and q.strip():
            query = query.where(Conversation.sender_id.in_(_matching_senders(session, q.strip())))
        rows = session.execute(query.order_by(Conversation.last_at.desc(), Conversation.sender_id.desc())
                               .limit(limit + 1)).scalars().all()
        items = [ConversationSummary.from_orm(row) for row in rows[:limit]]
    return ConversationList(items=items, next_before=items[-1].last_at if len(rows) > limit else None)


def _matching_senders(session, q: str) -> set[str]:
    """Conversations a query finds: a whole phone or ID number by its keyed hash (the number is
    stored nowhere in clear), a reference number by its booking or appeal, else the words in the
    transcript. Digits that are not a whole number match nothing: a part of a phone is no one's."""
    key = key_of(q)
    if key:
        return _senders_by_keys(session, [key]) | _senders_of_records(session, _records_by_number(session, q, key))
    if NUMBER_ONLY.fullmatch(q):
        return set()
    senders = set(session.execute(select(ConversationMessage.sender_id).where(
        ConversationMessage.text.contains(q, autoescape=True))).scalars())
    if reference.is_valid(q):
        records = _records_by_reference(session, reference.normalize(q))
        senders |= _senders_of_records(session, records)
        senders |= _senders_by_keys(session, [phone_key(r.phone) for r in records])
    return senders


def _senders_by_keys(session, keys: list[str]) -> set[str]:
    return set(session.execute(select(ConversationKey.sender_id).where(ConversationKey.key_hash.in_(keys))).scalars())


def _senders_of_records(session, records) -> set[str]:
    return {r.sender_id for r in records if r.sender_id}


def _records_by_number(session, q: str, key: str) -> list:
    try:
        phone = normalize_phone(re.sub(r"\D", "", q)[-11:])
    except ValueError:
        phone = None
    bookings = session.execute(select(Booking).where(or_(Booking.id_hash == key, Booking.phone == phone))).scalars()
    appeals = session.execute(select(Appeal).where(Appeal.phone == phone)).scalars() if phone else []
    return [*bookings, *appeals]


def _records_by_reference(session, ref: str) -> list:
    return [*session.execute(select(Booking).where(Booking.reference == ref)).scalars(),
            *session.execute(select(Appeal).where(Appeal.reference == ref)).scalars()]


@router.get("/api/conversations/waiting-count", response_model=WaitingCount, tags=["conversations"],
            summary="等待人工的会话数")
def waiting_count(staff: StaffPrincipal = Depends(current_staff)) -> WaitingCount:
    with session_scope() as session:
        count = session.execute(select(func.count()).select_from(Conversation)
                                .where(Conversation.state == WAITING)).scalar_one()
    return WaitingCount(waiting=count)


@router.get("/api/conversations/{sender_id}", response_model=ConversationDetail, tags=["conversations"],
            summary="会话详情：聊天记录（已遮挡）、关联的预约和诉求、可回复时间（查看会记入审计）",
            responses={404: {"description": "没有这个会话"}})
def conversation_detail(sender_id: str, limit: int = Query(500, ge=1, le=5000),
                        staff: StaffPrincipal = Depends(current_staff)) -> ConversationDetail:
    with session_scope() as session:
        conversation = session.get(Conversation, sender_id)
        if conversation is None:
            raise HTTPException(404, "没有这个会话")
        lines = session.execute(select(ConversationMessage).where(ConversationMessage.sender_id == sender_id)
                                .order_by(ConversationMessage.at.desc(), ConversationMessage.id.desc())
                                .limit(limit)).scalars().all()
        keys = list(session.execute(select(ConversationKey.key_hash)
                                    .where(ConversationKey.sender_id == sender_id)).scalars())
        bookings, appeals = _linked(session, sender_id, keys)
        if not _viewed_lately(session, staff, sender_id):
            audit.record(session, staff, "view_transcript", "conversation", sender_id)
        return ConversationDetail(
            conversation=ConversationSummary.from_orm(conversation),
            messages=[TranscriptLine.from_orm(line) for line in reversed(lines)],
            bookings=[_booking_link(b) for b in bookings],
            appeals=[_appeal_link(a) for a in appeals],
            reply_window=reply_window(conversation),
        )


def reply_window(conversation: Conversation) -> ReplyWindow:
    """Whether a staff reply can still reach the veteran, as takeover decides it (WeChat: 48 h)."""
    window = takeover.reply_window(conversation.channel, conversation.last_user_at)
    return ReplyWindow(last_user_at=conversation.last_user_at, open_until=window.until, open=window.can_reply,
                       path=window.path, notice=window.notice)


def _viewed_lately(session, staff: StaffPrincipal, sender_id: str) -> bool:
    """The page reloads an open transcript on every live update: one audit line per staff member and
    conversation per VIEW_AUDIT_GAP is enough to say who looked at it, and when."""
    since = utcnow() - VIEW_AUDIT_GAP
    return session.execute(select(StaffAudit.id).where(
        StaffAudit.username == staff.username, StaffAudit.action == "view_transcript",
        StaffAudit.target_id == sender_id, StaffAudit.at >= since).limit(1)).first() is not None


def _linked(session, sender_id: str, keys: list[str]) -> tuple[list[Booking], list[Appeal]]:
    """Bookings and appeals made in this conversation, and those made elsewhere with a phone or ID
    number said in it (matched by keyed hash: the conversation keeps no number)."""
    key_set = set(keys)
    booking_phones = _phones_with_keys(session, Booking.phone, key_set)
    appeal_phones = _phones_with_keys(session, Appeal.phone, key_set)
    bookings = session.execute(select(Booking).where(or_(
        Booking.sender_id == sender_id, Booking.id_hash.in_(key_set), Booking.phone.in_(booking_phones)))
        .order_by(Booking.created_at.desc())).scalars().all()
    appeals = session.execute(select(Appeal).where(or_(Appeal.sender_id == sender_id, Appeal.phone.in_(appeal_phones)))
                              .order_by(Appeal.created_at.desc())).scalars().all()
    return list(bookings), list(appeals)


def _phones_with_keys(session, column, keys: set[str]) -> list[str]:
    # Phones are stored in clear in bookings and appeals but only keyed in conversations: hash each
    # distinct phone (cached; a bureau has thousands at most) and keep those the conversation named.
    if not keys:
        return []
    return [phone for phone in session.execute(select(column).distinct()).scalars() if _phone_key(phone) in keys]


@lru_cache(maxsize=100_000)
def _phone_key(phone: str) -> str | None:
    try:
        return phone_key(phone)
    except ValueError:
        return None


def _booking_link(booking: Booking) -> LinkedBooking:
    return LinkedBooking(reference=booking.reference, service_code=booking.service_code,
                         location_code=booking.location_code, date=booking.date.isoformat(),
                         start_time=booking.start_time.strftime("%H:%M"), status=booking.status,
                         phone_masked=booking.phone_masked)


def _appeal_link(appeal: Appeal) -> LinkedAppeal:
    return LinkedAppeal(reference=appeal.reference, category=appeal.category, status=appeal.status,
                        urgent=appeal.urgent, deadline=appeal.deadline.isoformat() if appeal.deadline else None,
                        created_at=appeal.created_at, phone_masked=appeal.phone_masked)


@router.get("/api/stream", tags=["conversations"], summary="实时更新（server-sent events）",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": '每次会话有变化：data: {"type":"conversation","sender_id":…,"state":…}'}})
async def stream(request: Request, staff: StaffPrincipal = Depends(current_staff)) -> StreamingResponse:
    return StreamingResponse(event_stream(request.is_disconnected), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
