"""代办 booking in the conversation: thin Rasa actions over booking.dialogue (what is asked and
understood) and booking.service (what is stored).

Why the validation actions are plain Actions named validate_<form> and not rasa_sdk's
FormValidationAction: the SDK returns only the form's required slots from extract_ methods, and
the dialogue keeps helper slots too (the day said before the time, the choices offered). Every
booking slot has a `custom` mapping, so Rasa itself never fills one from the wrong message (the
from_text trap); the actions read only what answers the slot requested, plus service, place and
time volunteered in the same message."""
from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from booking import dialogue
from booking.dialogue import HUMAN_BUTTON, Step
from booking.pii import ProtectedId, unseal
from booking.service import (
    BOOKED, BookingError, SlotFull, cancel, create_booking, find_by_phone, get_by_reference,
    reschedule,
)
from vetbot.storage import session_scope

BOOKING_SLOTS = ("booking_service", "booking_choices", "booking_location", "booking_day",
                 "booking_half", "booking_start", "booking_name", "booking_phone", "booking_id",
                 "booking_confirm", "booking_misses")
# Intents that, when the answer fits no slot, mean the veteran wants something else: the form
# lets go and the rules answer (a policy question, 算了, a person).
REDIRECTS = {"deny", "cancel_booking", "ask_policy", "ask_more", "request_human", "file_appeal",
             "check_appeal", "goodbye"}
READERS = {"booking_name": dialogue.read_name, "booking_phone": dialogue.read_phone,
           "booking_id": dialogue.read_id_number}
# What counts as an answer to each of the first three questions (a group of services, a day).
PROGRESS = {"booking_service": {"booking_service", "booking_choices"}, "booking_location": {"booking_location"},
            "booking_start": {"booking_start", "booking_day", "booking_half"}}
MISSED_TWICE = "还是没对上。要不要请工作人员帮您登记？也可以再发一次。"


def _text(tracker: Tracker) -> str:
    return tracker.latest_message.get("text") or ""


def _intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def _actor(tracker: Tracker) -> str:
    return f"veteran:{tracker.get_latest_input_channel() or 'chat'}:{tracker.sender_id}"


async def _in_db(fn):
    """Run fn(session) in one transaction, off the event loop (SQLite/PostgreSQL are blocking)."""
    def work():
        with session_scope() as session:
            return fn(session)
    return await asyncio.to_thread(work)


def _say(dispatcher: CollectingDispatcher, step: Step) -> None:
    for i, text in enumerate(step.say):
        last = i == len(step.say) - 1
        dispatcher.utter_message(text=text, buttons=step.buttons if last else [])


def _miss(dispatcher: CollectingDispatcher, tracker: Tracker, explain: str) -> dict:
    """A wrong answer: explain the format once; the second time in a row, offer a person."""
    misses = int(tracker.get_slot("booking_misses") or 0) + 1
    if misses >= 2:
        dispatcher.utter_message(text=MISSED_TWICE, buttons=[HUMAN_BUTTON])
    else:
        dispatcher.utter_message(text=explain)
    return {"booking_misses": float(misses)}


def _events(values: dict) -> list[dict]:
    return [SlotSet(k, v) for k, v in values.items()]


class ValidateBookingForm(Action):
    def name(self) -> str:
        return "validate_booking_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
        asked = tracker.get_slot("requested_slot")
        text, slots = _text(tracker), dict(tracker.slots)
        values: dict = {}

        said_something = False

        def take(step: Step) -> None:
            nonlocal said_something
            values.update(step.slots)
            slots.update(step.slots)
            said_something = said_something or bool(step.say)
            _say(dispatcher, step)

        if asked and _intent(tracker) == "ask_policy" and dialogue.is_question(text):
            return []  # a policy question mid-form: the rules answer it and the form asks again
        if asked in (None, "booking_service", "booking_location", "booking_start"):
            # what a veteran volunteers up front: 我要约评残 乍浦 下周三上午
            if asked == "booking_service" or not slots.get("booking_service"):
                take(dialogue.read_service(text))
            else:
                take(dialogue.read_service_variant(text, slots["booking_service"]))
            if asked == "booking_location" or not slots.get("booking_location"):
                take(dialogue.read_location(text, slots.get("booking_service")))
            if asked == "booking_start" or not slots.get("booking_start"):
                location = slots.get("booking_location") or dialogue.catalogue().centre.id
                take(await _in_db(lambda s: dialogue.read_start(
                    text, location, day=slots.get("booking_day"), half=slots.get("booking_half"),
                    session=s)))
            if asked and not PROGRESS[asked] & values.keys() and not said_something:
                return self._not_an_answer(dispatcher, tracker, dialogue.FORMATS[asked], values)
        elif asked in READERS:
            step = READERS[asked](text)
            if not step.slots:  # the reader's own explanation, else the slot's format
                return self._not_an_answer(dispatcher, tracker, (step.say or [dialogue.FORMATS[asked]])[0])
            values.update(step.slots)
            for other in ("booking_phone", "booking_id"):  # 王建国 13857312345: both in one message
                if other != asked and not slots.get(other):
                    values.update(READERS[other](text).slots)
        elif asked == "booking_confirm":
            return _events(await self._confirm(dispatcher, tracker, text))
        if asked:
            values["booking_misses"] = 0.0
        return _events(values)

    @staticmethod
    def _not_an_answer(dispatcher, tracker: Tracker, explain: str, values: dict | None = None) -> list[dict]:
        if _intent(tracker) in REDIRECTS and not values:
            return []  # the form is rejected and the rules take over
        return _events((values or {}) | _miss(dispatcher, tracker, explain))

    async def _confirm(self, dispatcher, tracker: Tracker, text: str) -> dict:
        verdict, to_clear = dialogue.read_confirm(text)
        if verdict == "change":
            values = {slot: None for slot in to_clear} | {"booking_confirm": None, "booking_misses": 0.0}
            if "booking_start" in to_clear:  # 改到下周四下午: take the new time said with it
                location = tracker.get_slot("booking_location")
                step = await _in_db(lambda s: dialogue.read_start(text, location, day=None, half=None,
                                                                 session=s))
                values |= step.slots
                _say(dispatcher, step)
            return values
        if verdict == "unclear" and _intent(tracker) != "affirm":
            if _intent(tracker) in REDIRECTS - {"deny"}:
                return {}
            dispatcher.utter_message(text="要改哪一项？直接说，比如“改时间”“改手机号”；不约了就说“算了”。",
                                     buttons=dialogue.CONFIRM_BUTTONS)
            return {"booking_misses": 0.0}
        slots = tracker.slots
        try:
            reference = await _in_db(lambda s: _book(s, slots, tracker))
        except SlotFull:
            dispatcher.utter_message(text="真不巧，这个时间刚刚被别人约走了，请换一个时间。")
            return {"booking_start": None, "booking_confirm": None}
        return {"booking_confirm": "yes", "booking_reference": reference}


def _book(session, slots: dict, tracker: Tracker) -> str:
    start = datetime.fromisoformat(slots["booking_start"])
    location = dialogue.catalogue().location(slots["booking_location"])
    booking = create_booking(
        session, service_code=slots["booking_service"], location_code=location.id,
        date=start.date(), start_time=start.time(), name=slots["booking_name"],
        phone=unseal(slots["booking_phone"]["sealed"]), id_number=ProtectedId(**slots["booking_id"]),
        capacity=location.capacity_per_slot, actor=_actor(tracker),
        channel=tracker.get_latest_input_channel(), sender_id=tracker.sender_id)
    return booking.reference


class AskBookingService(Action):
    def name(self) -> str:
        return "action_ask_booking_service"

    async def run(self, dispatcher, tracker: Tracker, domain):
        text, buttons = dialogue.service_buttons(tracker.get_slot("booking_choices"))
        dispatcher.utter_message(text=text, buttons=buttons)
        return []


class AskBookingLocation(Action):
    def name(self) -> str:
        return "action_ask_booking_location"

    async def run(self, dispatcher, tracker: Tracker, domain):
        text, buttons = dialogue.location_question(tracker.get_slot("booking_service"))
        dispatcher.utter_message(text=text, buttons=buttons)
        return []


class AskBookingStart(Action):
    def name(self) -> str:
        return "action_ask_booking_start"

    async def run(self, dispatcher, tracker: Tracker, domain):
        location, day, half = (tracker.get_slot(k) for k in ("booking_location", "booking_day", "booking_half"))
        text, buttons = await _in_db(lambda s: dialogue.start_question(location, day, half, s))
        dispatcher.utter_message(text=text, buttons=buttons)
        return []


class AskBookingConfirm(Action):
    def name(self) -> str:
        return "action_ask_booking_confirm"

    async def run(self, dispatcher, tracker: Tracker, domain):
        dispatcher.utter_message(text=dialogue.summary(tracker.slots) + "\n确认无误请回复“确认”。",
                                 buttons=dialogue.CONFIRM_BUTTONS)
        return []


class ActionBookingDone(Action):
    """After the form: the reference and checklist; the form's slots cleared, the booking kept
    in reach for "取消预约" in the same conversation."""

    def name(self) -> str:
        return "action_booking_done"

    async def run(self, dispatcher, tracker: Tracker, domain):
        reference = tracker.get_slot("booking_reference")
        booking = await _in_db(lambda s: dialogue.booking_done_text(get_by_reference(s, reference)))
        dispatcher.utter_message(text=booking)
        phone = tracker.get_slot("booking_phone")
        return _events({slot: None for slot in BOOKING_SLOTS}) + [
            SlotSet("manage_reference", reference), SlotSet("manage_phone", phone)]


class ActionBookingStop(Action):
    def name(self) -> str:
        return "action_booking_stop"

    async def run(self, dispatcher, tracker: Tracker, domain):
        dispatcher.utter_message(text="好的，这次先不约了，刚才填的都没有保存。想约的时候说“预约代办”就行。")
        return [ActiveLoop(None), SlotSet("requested_slot", None)] + _events(
            {slot: None for slot in BOOKING_SLOTS + MANAGE_SLOTS})


# ---- look up, cancel, reschedule -----------------------------------------------------------

MANAGE_SLOTS = ("manage_reference", "manage_phone", "manage_choices")
ACTION_OF_INTENT = {"check_booking": "show", "cancel_booking": "cancel", "reschedule_booking": "reschedule"}
ASK_REFERENCE = "请告诉我预约号（7位字母和数字），或者预约时留的手机号。"


def _phone_of(slot: dict | None) -> str | None:
    return unseal(slot["sealed"]) if slot else None


class ActionManageStart(Action):
    """查预约 / 取消预约 / 改预约: what to do once the booking is found. A reference or phone in the
    message is read by the form; without one, the booking made earlier in this conversation."""

    def name(self) -> str:
        return "action_manage_start"

    async def run(self, dispatcher, tracker: Tracker, domain):
        events = [SlotSet("manage_action", ACTION_OF_INTENT.get(_intent(tracker), "show")),
                  SlotSet("booking_misses", 0.0), SlotSet("manage_choices", None)]
        text = _text(tracker)
        if dialogue.read_reference(text) or dialogue.phone_in(text):
            events += [SlotSet("manage_reference", None), SlotSet("manage_phone", None)]
        return events


class ValidateManageForm(Action):
    def name(self) -> str:
        return "validate_booking_manage_form"

    async def run(self, dispatcher, tracker: Tracker, domain):
        asked, text = tracker.get_slot("requested_slot"), _text(tracker)
        action = tracker.get_slot("manage_action")
        reference, phone = dialogue.read_reference(text), dialogue.phone_in(text)
        if asked == "manage_phone" and phone:
            reference = tracker.get_slot("manage_reference")
        elif asked in (None, "manage_reference") and not reference and phone:
            return _events(await self._by_phone(dispatcher, tracker, phone, action))
        elif asked in (None, "manage_reference") and reference:
            phone = phone or _phone_of(tracker.get_slot("manage_phone"))
        else:
            if asked is None or _intent(tracker) in REDIRECTS:
                return []
            explain = ASK_REFERENCE if asked == "manage_reference" else dialogue.MOBILE_FORMAT
            return _events(_miss(dispatcher, tracker, explain))
        if phone is None:  # a reference alone: ask for the phone as the check
            return _events({"manage_reference": reference, "manage_phone": None})
        booking = await _in_db(lambda s: _summary_if_found(s, reference, phone))
        if booking is None:
            return _events({"manage_phone": None} | _miss(
                dispatcher, tracker, "预约号和手机号对不上，没有找到这个预约。请核对后再发。"))
        if action != "show" and booking[1] != BOOKED:
            dispatcher.utter_message(text=booking[0] + "这个预约已经不能再改或取消了。")
            return _events({"manage_reference": None, "manage_phone": None, "booking_misses": 0.0})
        return _events({"manage_reference": reference, "manage_phone": dialogue.sealed_phone(phone),
                        "booking_misses": 0.0})

    async def _by_phone(self, dispatcher, tracker: Tracker, phone: str, action: str) -> dict:
        found = await _in_db(lambda s: [b.reference for b in find_by_phone(s, phone)])
        if not found:
            return _miss(dispatcher, tracker, "这个手机号下没有查到还有效的预约。请核对，或者告诉我预约号。")
        values = {"manage_phone": dialogue.sealed_phone(phone), "booking_misses": 0.0}
        if len(found) == 1:
            return values | {"manage_reference": found[0]}
        return values | {"manage_choices": found, "manage_reference": None}


def _summary_if_found(session, reference: str, phone: str):
    booking = get_by_reference(session, reference, phone=phone)
    return (dialogue.booking_text(booking), booking.status) if booking else None


class AskManageReference(Action):
    def name(self) -> str:
        return "action_ask_manage_reference"

    async def run(self, dispatcher, tracker: Tracker, domain):
        choices = tracker.get_slot("manage_choices")
        if not choices:
            dispatcher.utter_message(text=ASK_REFERENCE)
            return []
        texts = await _in_db(lambda s: [dialogue.booking_text(get_by_reference(s, r)) for r in choices])
        dispatcher.utter_message(text="这个手机号下有几个预约，是哪一个？\n" + "\n".join(texts),
                                 buttons=[{"title": r, "payload": r} for r in choices])
        return []


class ActionManageBooking(Action):
    """The booking found: shown, with the next step for what the veteran asked."""

    def name(self) -> str:
        return "action_manage_booking"

    async def run(self, dispatcher, tracker: Tracker, domain):
        reference, phone = tracker.get_slot("manage_reference"), _phone_of(tracker.get_slot("manage_phone"))
        found = await _in_db(lambda s: _booking_facts(s, reference, phone))
        action = tracker.get_slot("manage_action")
        if action == "cancel":
            dispatcher.utter_message(text=found["text"] + "\n确定要取消这个预约吗？",
                                     buttons=[{"title": "确定取消", "payload": "/affirm"},
                                              {"title": "不取消", "payload": "/deny"}])
            return []
        if action == "reschedule":
            dispatcher.utter_message(text=found["text"])
            return _events({"booking_location": found["location"], "booking_service": found["service"],
                            "booking_start": None, "booking_day": None, "booking_half": None,
                            "booking_confirm": None, "booking_misses": 0.0})
        buttons = [{"title": "取消这个预约", "payload": "/cancel_booking"},
                   {"title": "改时间", "payload": "/reschedule_booking"}]
        dispatcher.utter_message(text=found["text"], buttons=buttons if found["booked"] else [])
        return []


def _booking_facts(session, reference: str, phone: str) -> dict:
    booking = get_by_reference(session, reference, phone=phone)
    return {"text": dialogue.booking_text(booking), "location": booking.location_code,
            "service": booking.service_code, "booked": booking.status == BOOKED}


class ActionBookingCancel(Action):
    def name(self) -> str:
        return "action_booking_cancel"

    async def run(self, dispatcher, tracker: Tracker, domain):
        reference = tracker.get_slot("manage_reference")
        try:
            await _in_db(lambda s: cancel(s, reference, actor=_actor(tracker), reason="本人在对话中取消"))
        except BookingError as refusal:
            dispatcher.utter_message(text=str(refusal))
            return []
        dispatcher.utter_message(text=f"预约{reference}已经取消了。以后要办，随时跟我说“预约代办”。")
        return []


class ValidateRescheduleForm(Action):
    def name(self) -> str:
        return "validate_booking_reschedule_form"

    async def run(self, dispatcher, tracker: Tracker, domain):
        asked, text = tracker.get_slot("requested_slot"), _text(tracker)
        location = tracker.get_slot("booking_location")
        if asked == "reschedule_confirm":
            verdict, to_clear = dialogue.read_confirm(text)
            if verdict == "yes" or (verdict == "unclear" and _intent(tracker) == "affirm"):
                return _events(await self._move(dispatcher, tracker))
            if _intent(tracker) in REDIRECTS:
                return []
            asked = "booking_start"  # anything else: a new time
        step = await _in_db(lambda s: dialogue.read_start(
            text, location, day=tracker.get_slot("booking_day"), half=tracker.get_slot("booking_half"),
            session=s))
        _say(dispatcher, step)
        values = step.slots | {"reschedule_confirm": None}
        if asked is not None and not step and _intent(tracker) in REDIRECTS:
            return []
        if asked is not None and not step:
            values |= _miss(dispatcher, tracker, "没听出新的时间。请说哪天几点，比如“下周四上午九点”。")
        return _events(values)

    async def _move(self, dispatcher, tracker: Tracker) -> dict:
        start = datetime.fromisoformat(tracker.get_slot("booking_start"))
        location = dialogue.catalogue().location(tracker.get_slot("booking_location"))
        try:
            await _in_db(lambda s: reschedule(
                s, tracker.get_slot("manage_reference"), date=start.date(), start_time=start.time(),
                capacity=location.capacity_per_slot, actor=_actor(tracker)))
        except SlotFull:
            dispatcher.utter_message(text="真不巧，这个时间刚刚被别人约走了，请换一个时间。")
            return {"booking_start": None, "reschedule_confirm": None}
        return {"reschedule_confirm": "yes"}


class AskRescheduleConfirm(Action):
    def name(self) -> str:
        return "action_ask_reschedule_confirm"

    async def run(self, dispatcher, tracker: Tracker, domain):
        start = datetime.fromisoformat(tracker.get_slot("booking_start"))
        dispatcher.utter_message(
            text=f"把预约{tracker.get_slot('manage_reference')}改到{dialogue.label(start)}，确定吗？",
            buttons=[{"title": "确定", "payload": "确认"}, {"title": "换个时间", "payload": "改时间"},
                     {"title": "不改了", "payload": "/deny"}])
        return []


class ActionRescheduleDone(Action):
    def name(self) -> str:
        return "action_reschedule_done"

    async def run(self, dispatcher, tracker: Tracker, domain):
        reference = tracker.get_slot("manage_reference")
        text = await _in_db(lambda s: dialogue.booking_text(get_by_reference(s, reference)))
        dispatcher.utter_message(text="改好了。" + text + "要带的材料不变，前一天会提醒您。")
        return _events({slot: None for slot in BOOKING_SLOTS} | {"reschedule_confirm": None})
