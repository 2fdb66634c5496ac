"""代办 booking in the conversation: thin Rasa actions over booking.dialogue (what is asked and
understood) and booking.service (what is stored): making a booking. Looking one up,
cancelling and rescheduling are in bot/actions/booking_manage.py.

Why the validation actions are plain Actions named validate_<form> and not rasa_sdk's
FormValidationAction: the SDK returns only the form's required slots from extract_ methods, and
the dialogue keeps helper slots too (the day said before the time, the choices offered). Every
booking slot has a `custom` mapping, so Rasa itself never fills one from the wrong message (the
from_text trap); the actions read only what answers the slot requested, plus service, place and
time volunteered in the same message."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from booking import dialogue
from booking.calendar import NotBookable, check_slot
from booking.dialogue import Step
from booking.pii import ProtectedId, unseal
from booking.service import SlotFull, create_booking, get_by_reference
from bot.actions.form_common import (
    BOOKING_SLOTS, MANAGE_SLOTS, REDIRECTS, actor_of, affirmed, events, in_db, intent_of, miss, say, text_of,
)

READERS = {"booking_name": dialogue.read_name, "booking_phone": dialogue.read_phone,
           "booking_id": dialogue.read_id_number}
# What counts as an answer to each of the first three questions (a group of services, a day).
PROGRESS = {"booking_service": {"booking_service", "booking_choices"}, "booking_location": {"booking_location"},
            "booking_start": {"booking_start", "booking_day", "booking_half"}}


class ValidateBookingForm(Action):
    def name(self) -> str:
        return "validate_booking_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
        asked = tracker.get_slot("requested_slot")
        text, slots = text_of(tracker), dict(tracker.slots)
        values: dict = {}
        if asked is None:  # a new booking: nothing carried over from an earlier, unfinished one
            values = {slot: None for slot in BOOKING_SLOTS if slots.get(slot) is not None}
            slots.update(values)

        said_something = False

        def take(step: Step) -> None:
            nonlocal said_something
            values.update(step.slots)
            slots.update(step.slots)
            said_something = said_something or bool(step.say)
            say(dispatcher, step)

        if asked and intent_of(tracker) == "ask_policy" and dialogue.is_question(text):
            return []  # a policy question mid-form: the rules answer it and the form asks again
        if asked in (None, "booking_service", "booking_location", "booking_start"):
            # what a veteran volunteers up front: 我要约评残 乍浦 下周三上午
            if asked == "booking_service" or not slots.get("booking_service"):
                take(dialogue.read_service(text, slots.get("booking_choices")))
            else:
                take(dialogue.read_service_variant(text, slots["booking_service"]))
            if asked == "booking_location":
                take(dialogue.read_location_answer(text, slots.get("booking_service")))
            elif not slots.get("booking_location"):
                take(dialogue.read_location(text, slots.get("booking_service")))
            if asked == "booking_start" or not slots.get("booking_start"):
                location = slots.get("booking_location") or dialogue.catalogue().centre.id
                take(await in_db(lambda s: dialogue.read_start(
                    text, location, day=slots.get("booking_day"), half=slots.get("booking_half"),
                    session=s)))
            if asked and not PROGRESS[asked] & values.keys() and not said_something:
                if self._read_ahead(dispatcher, text, asked, slots, values):  # the mobile before the time
                    return events(values | {"booking_misses": 0.0})
                return self._not_an_answer(dispatcher, tracker, dialogue.FORMATS[asked], values)
        elif asked in READERS:
            step = READERS[asked](text)
            if not step.slots:  # the reader's own explanation, else the slot's format
                if self._read_ahead(dispatcher, text, asked, slots, values):  # the ID for the name
                    return events(values | {"booking_misses": 0.0})
                return self._not_an_answer(dispatcher, tracker, (step.say or [dialogue.FORMATS[asked]])[0])
            values.update(step.slots)
            self._read_ahead(None, text, asked, slots, values)  # 王建国 13857312345: both in one message
        elif asked == "booking_confirm":
            return events(await self._confirm(dispatcher, tracker, text))
        if asked:
            values["booking_misses"] = 0.0
        return events(values)

    @staticmethod
    def _read_ahead(dispatcher, text: str, asked: str, slots: dict, values: dict) -> bool:
        """A mobile or ID number said before it was asked for is kept (they cannot be mistaken
        for anything else), and said so when `dispatcher` is given; True when one was."""
        found = {}
        for other in ("booking_phone", "booking_id"):
            if other != asked and not slots.get(other):
                found |= READERS[other](text).slots
        values.update(found)
        if found and dispatcher is not None:
            kept = "、".join(n for k, n in (("booking_phone", "手机号"), ("booking_id", "身份证号")) if k in found)
            dispatcher.utter_message(text=f"{kept}先记下了。")
        return bool(found)

    @staticmethod
    def _not_an_answer(dispatcher, tracker: Tracker, explain: str, values: dict | None = None) -> list[dict]:
        if intent_of(tracker) in REDIRECTS and not values:
            return []  # the form is rejected and the rules take over
        return events((values or {}) | miss(dispatcher, tracker, explain))

    async def _confirm(self, dispatcher, tracker: Tracker, text: str) -> dict:
        verdict, to_clear = dialogue.read_confirm(text)
        if verdict == "change":
            values = {slot: None for slot in to_clear} | {"booking_confirm": None, "booking_misses": 0.0}
            if "booking_start" in to_clear:  # 改到下周四下午: take the new time said with it
                location = tracker.get_slot("booking_location")
                step = await in_db(lambda s: dialogue.read_start(text, location, day=None, half=None,
                                                                 session=s))
                values |= step.slots
                say(dispatcher, step)
            return values
        if verdict == "unclear" and not affirmed(tracker):
            if intent_of(tracker) in REDIRECTS - {"deny"}:
                return {}
            dispatcher.utter_message(text="要改哪一项？直接说，比如“改时间”“改手机号”；不约了就说“算了”。",
                                     buttons=dialogue.CONFIRM_BUTTONS)
            return {"booking_misses": 0.0}
        slots = tracker.slots
        try:
            reference = await in_db(lambda s: _book(s, slots, tracker))
        except SlotFull:
            dispatcher.utter_message(text="真不巧，这个时间刚刚被别人约走了，请换一个时间。")
            return {"booking_start": None, "booking_confirm": None}
        except NotBookable as refusal:  # e.g. the time passed while the read-back waited
            dispatcher.utter_message(text=str(refusal))
            return {"booking_start": None, "booking_day": None, "booking_confirm": None}
        return {"booking_confirm": "yes", "booking_reference": reference}


def _book(session, slots: dict, tracker: Tracker) -> str:
    start = datetime.fromisoformat(slots["booking_start"])
    location = dialogue.catalogue().location(slots["booking_location"])
    check_slot(start, dialogue.now(), location.hours)
    booking = create_booking(
        session, service_code=slots["booking_service"], location_code=location.id,
        date=start.date(), start_time=start.time(), name=slots["booking_name"],
        phone=unseal(slots["booking_phone"]["sealed"]), id_number=ProtectedId(**slots["booking_id"]),
        capacity=location.capacity_per_slot, actor=actor_of(tracker),
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
        text, buttons = await in_db(lambda s: dialogue.start_question(location, day, half, s))
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
        booking = await in_db(lambda s: dialogue.booking_done_text(get_by_reference(s, reference)))
        dispatcher.utter_message(text=booking)
        phone = tracker.get_slot("booking_phone")
        return events({slot: None for slot in BOOKING_SLOTS}) + [
            SlotSet("manage_reference", reference), SlotSet("manage_phone", phone)]


class ActionBookingStop(Action):
    def name(self) -> str:
        return "action_booking_stop"

    async def run(self, dispatcher, tracker: Tracker, domain):
        dispatcher.utter_message(text="好的，这次先不约了，刚才填的都没有保存。想约的时候说“预约代办”就行。")
        return [ActiveLoop(None), SlotSet("requested_slot", None)] + events(
            {slot: None for slot in BOOKING_SLOTS + MANAGE_SLOTS})
