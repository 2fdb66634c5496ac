"""一人一档 API: find a veteran's record by phone or sender id (made on first look-up), the whole
history, staff visits, notes, more identities, and merging two records of one person. Phones travel
only in request bodies (never in a URL, which access logs keep) and come back masked."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Optional

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from appeals.models import Appeal
from appeals.workflow import load_workflow
from booking.catalogue import load_catalogue
from booking.models import Booking
from booking.pii import mask_phone
from booking.service import STATUS_LABELS
from console import audit, profile
from console.auth import StaffPrincipal, current_staff
from console.models import ROLE_NAMES, Conversation, StaffVisit, Veteran, VeteranIdentity
from console.types import RowId
from vetbot.storage.engine import session_scope

router = APIRouter(tags=["profile"])
PAGE = Path(__file__).resolve().parent / "static" / "profile.html"


class LookupIn(BaseModel):
    phone: Optional[str] = Field(None, max_length=32, description="手机号（只在请求体里传）")
    sender_id: Optional[str] = Field(None, max_length=255, description="微信 openid 或网页会话编号")
    name: Optional[str] = Field(None, max_length=64)


class IdentityOut(BaseModel):
    kind: str
    shown: str


class ConversationOut(BaseModel):
    sender_id: str
    channel: Optional[str]
    last_message: Optional[str]
    last_at: Optional[datetime]
    state: str


class BookingOut(BaseModel):
    reference: str
    service: str
    location: str
    start: str
    status: str
    name: str
    phone: str
    channel: Optional[str]


class AppealOut(BaseModel):
    reference: str
    category: str
    status: str
    urgent: bool
    description: str
    town: str
    phone: str
    created_at: datetime
    deadline: Optional[date]


class VisitOut(BaseModel):
    id: int
    day: date
    kind: str
    kind_label: str
    staff: str
    note: str


class ProfileOut(BaseModel):
    id: int
    name: Optional[str]
    notes: Optional[str]
    created: bool = False
    identities: list[IdentityOut]
    conversations: list[ConversationOut]
    bookings: list[BookingOut]
    appeals: list[AppealOut]
    visits: list[VisitOut]


class ProfileSummary(BaseModel):
    id: int
    name: Optional[str]
    identities: list[IdentityOut]


class UpdateIn(BaseModel):
    name: Optional[str] = Field(None, max_length=64)
    notes: Optional[str] = Field(None, max_length=profile.MAX_NOTE_CHARS)


class VisitIn(BaseModel):
    day: date
    kind: str = Field("visit", description="visit 上门走访 / call 电话回访")
    note: str = Field(..., max_length=profile.MAX_NOTE_CHARS)


class IdentityIn(BaseModel):
    phone: Optional[str] = Field(None, max_length=32)
    sender_id: Optional[str] = Field(None, max_length=255)


class MergeIn(BaseModel):
    other_id: RowId = Field(..., description="并入本档案的另一份档案编号")


def _kind_value(phone: Optional[str], sender_id: Optional[str]) -> tuple[str, str]:
    if phone and phone.strip():
        return profile.PHONE, phone
    if sender_id and sender_id.strip():
        return profile.SENDER, sender_id
    raise HTTPException(422, "请填写手机号或会话编号。")


def booking_out(booking: Booking) -> BookingOut:
    catalogue = load_catalogue()
    try:
        service, location = catalogue.service(booking.service_code).name, catalogue.location(booking.location_code).name
    except KeyError:  # an entry since removed from the catalogue: show its code
        service, location = booking.service_code, booking.location_code
    return BookingOut(reference=booking.reference, service=service, location=location,
                      start=f"{booking.date:%Y-%m-%d} {booking.start_time:%H:%M}",
                      status=STATUS_LABELS.get(booking.status, booking.status), name=booking.name,
                      phone=booking.phone_masked, channel=booking.channel)


def appeal_out(appeal: Appeal) -> AppealOut:
    workflow = load_workflow()
    try:
        category = workflow.category(appeal.category).label
    except KeyError:
        category = appeal.category
    state = workflow.states.get(appeal.status)
    return AppealOut(reference=appeal.reference, category=category,
                     status=state.label if state else appeal.status, urgent=appeal.urgent,
                     description=appeal.description, town=appeal.town, phone=mask_phone(appeal.phone),
                     created_at=appeal.created_at, deadline=appeal.deadline)


def _identity_out(identity: VeteranIdentity) -> IdentityOut:
    return IdentityOut(kind=identity.kind, shown=identity.shown or "")


def _visit_out(visit: StaffVisit) -> VisitOut:
    return VisitOut(id=visit.id, day=visit.day, kind=visit.kind, kind_label=profile.VISIT_KINDS.get(visit.kind, visit.kind),
                    staff=visit.staff, note=visit.note)


def _conversation_out(c: Conversation) -> ConversationOut:
    return ConversationOut(sender_id=c.sender_id, channel=c.channel, last_message=c.last_message,
                           last_at=c.last_at, state=c.state)


def _profile_out(session, veteran: Veteran, created: bool = False) -> ProfileOut:
    h = profile.history(session, veteran)
    return ProfileOut(
        id=h.veteran.id, name=h.veteran.name, notes=h.veteran.notes, created=created,
        identities=[_identity_out(i) for i in h.identities],
        conversations=[_conversation_out(c) for c in h.conversations],
        bookings=[booking_out(b) for b in h.bookings], appeals=[appeal_out(a) for a in h.appeals],
        visits=[_visit_out(v) for v in h.visits])


@contextmanager
def _refused_as(status: int = 400):
    """The profile service's refusal, as this HTTP status with its Chinese reason."""
    try:
        yield
    except profile.ProfileError as error:
        raise HTTPException(status, str(error)) from None


def _load(session, veteran_id: int) -> Veteran:
    with _refused_as(404):
        return profile.get(session, veteran_id)


def _change(staff: StaffPrincipal, veteran_id: int, action: str, change, refused_as: int = 400) -> ProfileOut:
    """One change to a record: `change(session, veteran)` makes it and returns the audit row's
    detail; a refusal goes back as `refused_as` with its reason. Answers the record as it is now."""
    with session_scope() as session:
        veteran = _load(session, veteran_id)
        with _refused_as(refused_as):
            detail = change(session, veteran)
        audit.record(session, staff, action, "veteran", str(veteran.id), detail)
        return _profile_out(session, veteran)


@router.get("/profile", include_in_schema=False)
def profile_page(staff: StaffPrincipal = Depends(current_staff)) -> FileResponse:
    return FileResponse(PAGE, media_type="text/html; charset=utf-8")


@router.post("/api/profiles/lookup", response_model=ProfileOut, summary="按手机号或会话编号找档案（没有就建一份）")
def lookup(body: LookupIn, staff: StaffPrincipal = Depends(current_staff)) -> ProfileOut:
    kind, value = _kind_value(body.phone, body.sender_id)
    with session_scope() as session:
        with _refused_as():
            veteran, created = profile.find_or_create(session, kind, value, body.name)
        audit.record(session, staff, "view_profile", "veteran", str(veteran.id),
                     {"by": kind, "created": created})
        return _profile_out(session, veteran, created)


@router.get("/api/profiles", response_model=list[ProfileSummary], summary="按姓名找档案")
def search(name: str, staff: StaffPrincipal = Depends(current_staff)) -> list[ProfileSummary]:
    with session_scope() as session:
        found = profile.search_records(session, name)
        return [ProfileSummary(id=v.id, name=v.name, identities=[_identity_out(i) for i in profile.history(
            session, v).identities]) for v in found]


@router.get("/api/profiles/{veteran_id}", response_model=ProfileOut, summary="一份档案的全部记录")
def show(veteran_id: RowId, staff: StaffPrincipal = Depends(current_staff)) -> ProfileOut:
    with session_scope() as session:
        veteran = _load(session, veteran_id)
        audit.record(session, staff, "view_profile", "veteran", str(veteran.id))
        return _profile_out(session, veteran)


@router.patch("/api/profiles/{veteran_id}", response_model=ProfileOut, summary="改姓名或备注")
def edit(veteran_id: RowId, body: UpdateIn, staff: StaffPrincipal = Depends(current_staff)) -> ProfileOut:
    def update(session, veteran: Veteran) -> dict:
        profile.update(session, veteran, name=body.name, notes=body.notes)
        return {"fields": [field for field in ("name", "notes") if getattr(body, field) is not None]}

    return _change(staff, veteran_id, "edit_profile", update)


@router.post("/api/profiles/{veteran_id}/visits", response_model=ProfileOut, summary="记一次走访或电话回访")
def add_visit(veteran_id: RowId, body: VisitIn, staff: StaffPrincipal = Depends(current_staff)) -> ProfileOut:
    def add(session, veteran: Veteran) -> dict:
        visit = profile.add_visit(session, veteran, day=body.day, kind=body.kind, note=body.note,
                                  staff=staff.display_name)
        return {"visit": visit.id, "kind": visit.kind}

    return _change(staff, veteran_id, "add_visit", add)


@router.post("/api/profiles/{veteran_id}/identities", response_model=ProfileOut, summary="加一个手机号或会话编号")
def add_identity(veteran_id: RowId, body: IdentityIn, staff: StaffPrincipal = Depends(current_staff)) -> ProfileOut:
    kind, value = _kind_value(body.phone, body.sender_id)

    def add(session, veteran: Veteran) -> dict:
        return {"kind": kind, "shown": profile.add_identity(session, veteran, kind, value).shown}

    return _change(staff, veteran_id, "add_identity", add, refused_as=409)


@router.post("/api/profiles/{veteran_id}/merge", response_model=ProfileOut, summary="把另一份档案并入这一份（同一个人）")
def merge(veteran_id: RowId, body: MergeIn, staff: StaffPrincipal = Depends(current_staff)) -> ProfileOut:
    with session_scope() as session:
        keep, other = _load(session, veteran_id), _load(session, body.other_id)
        other_id = other.id
        with _refused_as():
            profile.merge(session, keep, other)
        audit.record(session, staff, "merge_profile", "veteran", str(keep.id),
                     {"merged": other_id, "role": ROLE_NAMES.get(staff.role, staff.role)})
        return _profile_out(session, keep)

