"""代客咨询: staff type a caller's question and get the answer the chat would give (the policy action
itself, bot/actions/policy.py, run on a one-message tracker), its source and the next best passages;
then book or file an appeal for the caller with the chat's own readers and checks (booking/dialogue.py,
the catalogue, appeals classify / urgency), channel "phone", linked to the caller's record by phone."""
from __future__ import annotations

import asyncio
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Optional

import yaml
from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from appeals import dialogue as appeal_talk
from appeals.classify import propose
from appeals.service import file_appeal
from appeals.urgency import label as urgent_label, urgent_signals
from appeals.workflow import load_workflow
from booking import dialogue as booking_talk
from booking.calendar import TZ, NotBookable, check_slot
from booking.pii import ProtectedId, redact, unseal
from booking.service import SlotFull, create_booking
from console import audit, profile
from console.auth import StaffPrincipal, current_staff
from console.routes_knowledge import PassageOut, passage_out, ready_knowledge_base
from knowledge.context import with_topic, without_personal_numbers
from vetbot.config import PROJECT_ROOT
from vetbot.storage.engine import session_scope

router = APIRouter(tags=["ask"])
PAGE = Path(__file__).resolve().parent / "static" / "ask.html"
DOMAIN_DIR = PROJECT_ROOT / "bot" / "domain"
NEXT_PASSAGES = 5
PHONE_CHANNEL = "phone"


# ---- asking ------------------------------------------------------------------------------------

class AskIn(BaseModel):
    question: str = Field("", max_length=500, description="来电人的问题")
    previous: Optional[str] = Field(None, max_length=500, description="上一个问题（追问时，如“那要带什么材料”）")
    passage_id: Optional[str] = Field(None, max_length=255, description="点了“您是想问…”时：那一条的编号")


class Suggestion(BaseModel):
    passage_id: str
    title: str


class AskOut(BaseModel):
    answer: str  # what the chat would say, message by message joined
    outcome: str  # answered / suggested / not_found / other
    query: str  # what was searched (a follow-up carries the previous topic)
    sources: list[PassageOut]  # the passage the answer is from
    suggestion: Optional[Suggestion]  # "您是想问…" — ask again with its passage_id
    passages: list[PassageOut]  # the next best passages, for staff to read on


@lru_cache(maxsize=1)
def _responses() -> dict[str, str]:
    """The domain's response texts, for a reply the action gives by name (utter_ask_policy_question)."""
    texts = {}
    for path in sorted(DOMAIN_DIR.glob("*.yml")):
        for name, variants in ((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("responses") or {}).items():
            if variants and variants[0].get("text"):
                texts[name] = variants[0]["text"]
    return texts


async def run_policy_action(question: str, previous: str | None, passage_id: str | None, sender: str):
    """The chat's policy answer for `question`: (message texts, slots the action set)."""
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from bot.actions.policy import ActionAnswerPolicy

    entities = [{"entity": "policy_id", "value": passage_id}] if passage_id else []
    tracker = Tracker(sender_id=sender, slots={"last_policy_query": previous},
                      latest_message={"text": question, "entities": entities, "intent": {"name": "ask_policy"}},
                      events=[], paused=False, followup_action=None, active_loop={}, latest_action_name=None)
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerPolicy().run(dispatcher, tracker, {})
    texts = [m.get("text") or _responses().get(m.get("response") or "", "") for m in dispatcher.messages]
    slots = {e["name"]: e.get("value") for e in events if e.get("event") == "slot"}
    return [t for t in texts if t], slots


@router.get("/ask", include_in_schema=False)
def ask_page(staff: StaffPrincipal = Depends(current_staff)) -> FileResponse:
    return FileResponse(PAGE, media_type="text/html; charset=utf-8")


@router.get("/api/ask", response_model=AskOut, summary="代客咨询（同 POST，参数在地址里）")
async def ask_get(question: str = Query("", max_length=500), previous: Optional[str] = Query(None, max_length=500),
                  passage_id: Optional[str] = Query(None, max_length=255),
                  staff: StaffPrincipal = Depends(current_staff)) -> AskOut:
    return await ask(AskIn(question=question, previous=previous, passage_id=passage_id), staff)


@router.post("/api/ask", response_model=AskOut, summary="代客咨询：助手会怎么回答，出处和其他相关条文")
async def ask(body: AskIn, staff: StaffPrincipal = Depends(current_staff)) -> AskOut:
    question = body.question.strip()
    if not question and not body.passage_id:
        raise HTTPException(422, "请输入来电人的问题。")
    kb = await ready_knowledge_base()
    previous = (body.previous or "").strip() or None
    texts, slots = await run_policy_action(question, previous, body.passage_id, f"console:{staff.username}")

    answer_id = slots.get("policy_answer_id")
    offered = slots.get("offered_payload") or ""
    loop = asyncio.get_running_loop()
    sources = []
    if answer_id:
        hit = await loop.run_in_executor(None, kb.hit_by_id, answer_id)
        sources = [passage_out(hit)] if hit else []
    suggestion = None
    if offered.startswith("policy:"):
        hit = await loop.run_in_executor(None, kb.hit_by_id, offered.removeprefix("policy:"))
        suggestion = Suggestion(passage_id=hit.passage.id, title=hit.passage.title) if hit else None
    query = with_topic(without_personal_numbers(question), previous) if question else ""
    others = []
    if query:
        hits = await loop.run_in_executor(None, lambda: kb.search(query, top_k=NEXT_PASSAGES + 1, strict=False))
        shown = {answer_id, suggestion.passage_id if suggestion else None}
        others = [passage_out(h) for h in hits if h.passage.id not in shown][:NEXT_PASSAGES]
    outcome = "answered" if sources else "suggested" if suggestion else "not_found" if offered == "/request_human" else "other"

    with session_scope() as session:
        audit.record(session, staff, "ask_bot", "knowledge", answer_id,
                     {"question": redact(question)[:200], "outcome": outcome})
    return AskOut(answer="\n\n".join(texts), outcome=outcome, query=query, sources=sources,
                  suggestion=suggestion, passages=others)


# ---- what the forms offer ------------------------------------------------------------------------

class Option(BaseModel):
    id: str
    name: str


class ServiceOption(Option):
    locations: list[str]  # the location ids that handle it


class FormOptions(BaseModel):
    services: list[ServiceOption]
    locations: list[Option]
    categories: list[Option]


@router.get("/api/ask/options", response_model=FormOptions, summary="预约事项、地点和诉求类别（给表单用）")
def options(staff: StaffPrincipal = Depends(current_staff)) -> FormOptions:
    catalogue = booking_talk.catalogue()
    return FormOptions(
        services=[ServiceOption(id=s.id, name=s.name, locations=[loc.id for loc in catalogue.locations_for(s)])
                  for s in catalogue.services],
        locations=[Option(id=loc.id, name=loc.name) for loc in catalogue.locations],
        categories=[Option(id=c.id, name=c.label) for c in load_workflow().categories])


# ---- booking for a caller ------------------------------------------------------------------------

class BookingIn(BaseModel):
    service: str = Field(..., max_length=64, description="事项编号，或事项名称（如“评残”）")
    location: Optional[str] = Field(None, max_length=64, description="地点编号；只在中心办的事项可不填")
    when: str = Field(..., max_length=64, description="日期时间，像聊天里一样说：下周三上午九点、12月9号九点半")
    name: str = Field(..., max_length=64)
    phone: str = Field(..., max_length=32)
    id_number: str = Field(..., max_length=32)
    sender_id: Optional[str] = Field(None, max_length=255, description="来电人也在聊天里的话：会话编号")


class TimeOption(BaseModel):
    title: str
    value: str


class Refusal(BaseModel):
    detail: str
    times: list[TimeOption] = []


class Created(BaseModel):
    reference: str
    text: str  # what the chat would tell the veteran: read it out to the caller
    profile_id: int
    urgent: bool = False


class Refused(Exception):
    """Why a booking or appeal cannot be made as given, with the free times to pick from."""

    def __init__(self, message: str, times: list[dict] | None = None, status: int = 422):
        super().__init__(message)
        self.status = status
        self.body = Refusal(detail=message, times=[TimeOption(title=b["title"], value=b["payload"])
                                                   for b in times or []])


def _refuse(message: str, times: list[dict] | None = None, status: int = 422):
    raise Refused(message, times, status)


def _in_one_transaction(make, body, staff: StaffPrincipal):
    """make(session, body, staff) committed, or the refusal as {"detail", "times"} and nothing kept."""
    try:
        with session_scope() as session:
            return make(session, body, staff)
    except Refused as refused:
        return JSONResponse(refused.body.dict(), status_code=refused.status)


def _service_id(text: str) -> str:
    catalogue = booking_talk.catalogue()
    if text in {s.id for s in catalogue.services}:
        return text
    step = booking_talk.read_service(text)
    if step.slots.get("booking_service"):
        return step.slots["booking_service"]
    choices = step.slots.get("booking_choices")
    if choices:
        names = "、".join(catalogue.service(c).name for c in choices)
        _refuse(f"是哪一项：{names}？请选具体的事项。")
    _refuse(booking_talk.FORMATS["booking_service"])


def _location_id(service_id: str, location: str | None) -> str:
    catalogue = booking_talk.catalogue()
    places = catalogue.locations_for(catalogue.service(service_id))
    if not location:
        if len(places) == 1:
            return places[0].id
        _refuse("请选办理地点。")
    chosen = next((p for p in catalogue.locations if location in (p.id, p.name)), None)
    if chosen is None:
        step = booking_talk.read_location(location, service_id)
        chosen_id = step.slots.get("booking_location")
        if not chosen_id:
            _refuse(booking_talk.FORMATS["booking_location"])
        chosen = catalogue.location(chosen_id)
    if chosen not in places:
        _refuse(f"{chosen.name}不办{catalogue.service(service_id).name}，请选：{'、'.join(p.name for p in places)}。")
    return chosen.id


def _who(name: str, phone: str) -> tuple[str, str]:
    said = booking_talk.read_name(name).slots.get("booking_name")
    if not said:
        _refuse(booking_talk.NAME_FORMAT)
    step = booking_talk.read_phone(phone)
    if not step.slots.get("booking_phone"):
        _refuse("".join(step.say) or booking_talk.FORMATS["booking_phone"])
    return said, unseal(step.slots["booking_phone"]["sealed"])


def _book(session, body: BookingIn, staff: StaffPrincipal) -> Created:
    service_id = _service_id(body.service.strip())
    location_id = _location_id(service_id, (body.location or "").strip())
    name, phone = _who(body.name, body.phone)
    id_step = booking_talk.read_id_number(body.id_number)
    if not id_step.slots.get("booking_id"):
        _refuse("".join(id_step.say) or booking_talk.FORMATS["booking_id"])
    now = booking_talk.now()
    step = booking_talk.read_start(body.when, location_id, day=None, half=None, session=session, at=now)
    start = step.slots.get("booking_start")
    if not start:
        if step.slots.get("booking_day") and not step.say:  # a day without a time: its free times
            text, times = booking_talk.start_question(location_id, step.slots["booking_day"],
                                                      step.slots.get("booking_half"), session, now)
            _refuse(f"请选一个时间。{text}", times)
        _refuse("".join(step.say) or booking_talk.FORMATS["booking_start"], step.buttons)
    start_at = datetime.fromisoformat(start)
    location = booking_talk.catalogue().location(location_id)
    try:
        check_slot(start_at, now, location.hours)
        booking = create_booking(
            session, service_code=service_id, location_code=location_id, date=start_at.date(),
            start_time=start_at.time(), name=name, phone=phone, id_number=ProtectedId(**id_step.slots["booking_id"]),
            capacity=location.capacity_per_slot, actor=f"staff:{staff.username}", channel=PHONE_CHANNEL,
            sender_id=body.sender_id or None)
    except NotBookable as refusal:
        _refuse(str(refusal))
    except SlotFull as full:
        _refuse(str(full), status=409)
    veteran, _ = profile.find_or_create(session, profile.PHONE, phone, name)
    audit.record(session, staff, "create_booking", "booking", booking.reference,
                 {"channel": PHONE_CHANNEL, "service": service_id, "veteran": veteran.id})
    return Created(reference=booking.reference, text=booking_talk.booking_done_text(booking), profile_id=veteran.id)


@router.post("/api/ask/booking", response_model=Created, status_code=201,
             responses={409: {"model": Refusal}, 422: {"model": Refusal}},
             summary="为来电人预约代办（与聊天同样的校验）")
def book_for_caller(body: BookingIn, staff: StaffPrincipal = Depends(current_staff)):
    return _in_one_transaction(_book, body, staff)


# ---- appeal for a caller ------------------------------------------------------------------------

class ClassifyIn(BaseModel):
    description: str = Field(..., max_length=2000)


class ClassifyOut(BaseModel):
    offered: list[Option]  # likeliest first
    confident: bool
    urgent: list[str]  # what in the words makes it urgent (labels)


class AppealIn(BaseModel):
    description: str = Field(..., max_length=2000, description="来电人反映的情况，用他自己的话")
    category: Optional[str] = Field(None, max_length=32, description="类别编号；不填则按内容自动分类（有把握时）")
    name: str = Field(..., max_length=64)
    phone: str = Field(..., max_length=32)
    town: str = Field(..., max_length=64, description="所在镇（街道）或村")
    visit_wanted: bool = False
    sender_id: Optional[str] = Field(None, max_length=255)


def _category_label(category_id: str) -> str:
    return load_workflow().category(category_id).label


@router.post("/api/ask/appeal/classify", response_model=ClassifyOut, summary="按内容建议诉求类别，看是否紧急")
def classify(body: ClassifyIn, staff: StaffPrincipal = Depends(current_staff)) -> ClassifyOut:
    offered, confident = propose(body.description)
    return ClassifyOut(offered=[Option(id=c, name=_category_label(c)) for c in offered], confident=confident,
                       urgent=[urgent_label(s) for s in urgent_signals(body.description)])


def _file(session, body: AppealIn, staff: StaffPrincipal) -> Created:
    description = body.description.strip()
    if not appeal_talk.is_substantive(description):
        _refuse("请把来电人反映的事情写具体一些。")
    category = body.category
    if not category:
        offered, confident = propose(description)
        if not confident:
            _refuse("请选诉求类别，可能是：" + "、".join(_category_label(c) for c in offered) + "。")
        category = offered[0]
    try:
        _category_label(category)
    except KeyError:
        _refuse("没有这个诉求类别，请重新选择。")
    name, phone = _who(body.name, body.phone)
    town = appeal_talk.read_town(body.town)
    if town is None:
        _refuse("请填写所在镇（街道）或村，比如“乍浦镇”。")
    now = datetime.now(TZ)
    appeal = file_appeal(
        session, description=description, category=category, name=name, phone=phone, town=town["said"],
        visit_wanted=body.visit_wanted, urgent_signals=urgent_signals(description), channel=PHONE_CHANNEL,
        sender_id=body.sender_id or None,
        dedupe_key=appeal_talk.dedupe_key(PHONE_CHANNEL, f"staff:{staff.username}:{profile.phone_key(phone)[:16]}",
                                          description, now.date()),
        actor=f"staff:{staff.username}")
    veteran, _ = profile.find_or_create(session, profile.PHONE, phone, name)
    audit.record(session, staff, "file_appeal", "appeal", appeal.reference,
                 {"channel": PHONE_CHANNEL, "category": category, "urgent": appeal.urgent, "veteran": veteran.id})
    text = f"诉求已登记，编号：{appeal.reference}（类别：{_category_label(category)}）。"
    if appeal.urgent:
        text += "内容里有紧急情况，已提醒值班人员马上处理。"
    return Created(reference=appeal.reference, text=text, profile_id=veteran.id, urgent=appeal.urgent)


@router.post("/api/ask/appeal", response_model=Created, status_code=201, responses={422: {"model": Refusal}},
             summary="为来电人登记诉求（与聊天同样的分类和紧急判断）")
def appeal_for_caller(body: AppealIn, staff: StaffPrincipal = Depends(current_staff)):
    return _in_one_transaction(_file, body, staff)
