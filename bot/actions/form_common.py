"""What the form actions (booking, appeals) share: reading the tracker, the database off the event
loop, a wrong answer explained once and then a person offered, the slots each flow owns."""
from __future__ import annotations

import asyncio

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from booking.dialogue import HUMAN_BUTTON, Step
from vetbot.storage import session_scope

BOOKING_SLOTS = ("booking_service", "booking_choices", "booking_location", "booking_day",
                 "booking_half", "booking_start", "booking_name", "booking_phone", "booking_id",
                 "booking_confirm", "booking_misses")
MANAGE_SLOTS = ("manage_reference", "manage_phone", "manage_choices")
# Intents that, when the answer fits no slot, mean the veteran wants something else: the form
# lets go and the rules answer (a policy question, 算了, a person).
REDIRECTS = {"deny", "cancel_booking", "ask_policy", "ask_more", "request_human", "file_appeal",
             "check_appeal", "goodbye"}
MISSED_TWICE = "还是没对上。要不要请工作人员帮您登记？也可以再发一次。"


def text_of(tracker: Tracker) -> str:
    return tracker.latest_message.get("text") or ""


def intent_of(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def affirmed(tracker: Tracker) -> bool:
    """A sure "yes" from NLU (a /affirm button, 对的, 好的). A name like 李秀英 can come out as
    affirm at 0.5: a booking or a ticket is never confirmed on that."""
    intent = tracker.latest_message.get("intent") or {}
    return intent.get("name") == "affirm" and (intent.get("confidence") or 1.0) >= 0.9


def actor_of(tracker: Tracker) -> str:
    return f"veteran:{tracker.get_latest_input_channel() or 'chat'}:{tracker.sender_id}"


async def in_db(fn):
    """Run fn(session) in one transaction, off the event loop (SQLite/PostgreSQL are blocking)."""
    def work():
        with session_scope() as session:
            return fn(session)
    return await asyncio.to_thread(work)


def say(dispatcher: CollectingDispatcher, step: Step) -> None:
    for i, text in enumerate(step.say):
        last = i == len(step.say) - 1
        dispatcher.utter_message(text=text, buttons=step.buttons if last else [])


def miss(dispatcher: CollectingDispatcher, tracker: Tracker, explain: str,
         counter: str = "booking_misses") -> dict:
    """A wrong answer: explain the format once; the second time in a row, offer a person.
    `counter` is the slot counting misses in a row for this form."""
    misses = int(tracker.get_slot(counter) or 0) + 1
    if misses >= 2:
        dispatcher.utter_message(text=MISSED_TWICE, buttons=[HUMAN_BUTTON])
    else:
        dispatcher.utter_message(text=explain)
    return {counter: float(misses)}


def events(values: dict) -> list[dict]:
    return [SlotSet(k, v) for k, v in values.items()]
