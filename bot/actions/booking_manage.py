"""Looking up, cancelling and rescheduling a booking in the conversation, by its reference or by
the phone it was made with (the phone is the check); thin actions over booking.dialogue and
booking.service."""
from __future__ import annotations

from datetime import datetime

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet

from booking import dialogue
from booking.calendar import NotBookable, check_slot
from booking.pii import unseal
from booking.service import BOOKED, BookingError, SlotFull, cancel, find_by_phone, get_by_reference, reschedule
from bot.actions.form_common import (
    BOOKING_SLOTS, REDIRECTS, actor_of, affirmed, events, in_db, intent_of, miss, say, text_of,
)

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
        events = [SlotSet("manage_action", ACTION_OF_INTENT.get(intent_of(tracker), "show")),
                  SlotSet("booking_misses", 0.0), SlotSet("manage_choices", None)]
        text = text_of(tracker)
        if dialogue.read_reference(text) or dialogue.phone_in(text):
            events += [SlotSet("manage_reference", None), SlotSet("manage_phone", None)]
        return events


class ValidateManageForm(Action):
    def name(self) -> str:
        return "validate_booking_manage_form"

    async def run(self, dispatcher, tracker: Tracker, domain):
        asked, text = tracker.get_slot("requested_slot"), text_of(tracker)
        action = tracker.get_slot("manage_action")
        reference, phone = dialogue.read_reference(text), dialogue.phone_in(text)
        if asked == "manage_phone" and phone:
            reference = tracker.get_slot("manage_reference")
        elif asked in (None, "manage_reference") and not reference and phone:
            return events(await self._by_phone(dispatcher, tracker, phone, action))
        elif asked in (None, "manage_reference") and reference:
            phone = phone or _phone_of(tracker.get_slot("manage_phone"))
        else:
            if asked is None or intent_of(tracker) in REDIRECTS:
                return []
            explain = ASK_REFERENCE if asked == "manage_reference" else dialogue.MOBILE_FORMAT
            return events(miss(dispatcher, tracker, explain))
        if phone is None:  # a reference alone: ask for the phone as the check
            return events({"manage_reference": reference, "manage_phone": None})
        booking = await in_db(lambda s: _summary_if_found(s, reference, phone))
        if booking is None:
            return events({"manage_phone": None} | miss(
                dispatcher, tracker, "预约号和手机号对不上，没有找到这个预约。请核对后再发。"))
        if action != "show" and booking[1] != BOOKED:
            dispatcher.utter_message(text=booking[0] + "这个预约已经不能再改或取消了。")
            return events({"manage_reference": None, "manage_phone": None, "booking_misses": 0.0})
        return events({"manage_reference": reference, "manage_phone": dialogue.sealed_phone(phone),
                        "booking_misses": 0.0})

    async def _by_phone(self, dispatcher, tracker: Tracker, phone: str, action: str) -> dict:
        found = await in_db(lambda s: [b.reference for b in find_by_phone(s, phone)])
        if not found:
            return miss(dispatcher, tracker, "这个手机号下没有查到还有效的预约。请核对，或者告诉我预约号。")
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
        texts = await in_db(lambda s: [dialogue.booking_text(get_by_reference(s, r)) for r in choices])
        dispatcher.utter_message(text="这个手机号下有几个预约，是哪一个？\n" + "\n".join(texts),
                                 buttons=[{"title": r, "payload": r} for r in choices])
        return []


class ActionManageBooking(Action):
    """The booking found: shown, with the next step for what the veteran asked."""

    def name(self) -> str:
        return "action_manage_booking"

    async def run(self, dispatcher, tracker: Tracker, domain):
        reference, phone = tracker.get_slot("manage_reference"), _phone_of(tracker.get_slot("manage_phone"))
        found = await in_db(lambda s: _booking_facts(s, reference, phone))
        action = tracker.get_slot("manage_action")
        if action == "cancel":
            dispatcher.utter_message(text=found["text"] + "\n确定要取消这个预约吗？",
                                     buttons=[{"title": "确定取消", "payload": "/affirm"},
                                              {"title": "不取消", "payload": "/deny"}])
            return []
        if action == "reschedule":
            dispatcher.utter_message(text=found["text"])
            return events({"booking_location": found["location"], "booking_service": found["service"],
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
            await in_db(lambda s: cancel(s, reference, actor=actor_of(tracker), reason="本人在对话中取消"))
        except BookingError as refusal:
            dispatcher.utter_message(text=str(refusal))
            return []
        dispatcher.utter_message(text=f"预约{reference}已经取消了。以后要办，随时跟我说“预约代办”。")
        return []


class ValidateRescheduleForm(Action):
    def name(self) -> str:
        return "validate_booking_reschedule_form"

    async def run(self, dispatcher, tracker: Tracker, domain):
        asked, text = tracker.get_slot("requested_slot"), text_of(tracker)
        location = tracker.get_slot("booking_location")
        if asked == "reschedule_confirm":
            verdict, to_clear = dialogue.read_confirm(text)
            if verdict == "yes" or (verdict == "unclear" and affirmed(tracker)):
                return events(await self._move(dispatcher, tracker))
            if intent_of(tracker) in REDIRECTS:
                return []
            asked = "booking_start"  # anything else: a new time
        step = await in_db(lambda s: dialogue.read_start(
            text, location, day=tracker.get_slot("booking_day"), half=tracker.get_slot("booking_half"),
            session=s))
        say(dispatcher, step)
        values = step.slots | {"reschedule_confirm": None}
        if asked is not None and not step and intent_of(tracker) in REDIRECTS:
            return []
        if asked is not None and not step:
            values |= miss(dispatcher, tracker, "没听出新的时间。请说哪天几点，比如“下周四上午九点”。")
        return events(values)

    async def _move(self, dispatcher, tracker: Tracker) -> dict:
        start = datetime.fromisoformat(tracker.get_slot("booking_start"))
        location = dialogue.catalogue().location(tracker.get_slot("booking_location"))
        try:
            check_slot(start, dialogue.now(), location.hours)
            await in_db(lambda s: reschedule(
                s, tracker.get_slot("manage_reference"), date=start.date(), start_time=start.time(),
                capacity=location.capacity_per_slot, actor=actor_of(tracker)))
        except SlotFull:
            dispatcher.utter_message(text="真不巧，这个时间刚刚被别人约走了，请换一个时间。")
            return {"booking_start": None, "reschedule_confirm": None}
        except (NotBookable, BookingError) as refusal:  # the time passed; the booking was cancelled
            dispatcher.utter_message(text=str(refusal))
            return {"booking_start": None, "booking_day": None, "reschedule_confirm": None}
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
        text = await in_db(lambda s: dialogue.booking_text(get_by_reference(s, reference)))
        dispatcher.utter_message(text="改好了。" + text + "要带的材料不变，前一天会提醒您。")
        return events({slot: None for slot in BOOKING_SLOTS} | {"reschedule_confirm": None})
