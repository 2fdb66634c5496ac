"""Handing a veteran over to a person, the fallback that offers one after two misses, and
"好的 / 是的" after a yes/no question."""
from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime, time
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.policy import (
    HUMAN_BUTTON, HUMAN_PAYLOAD, POLICY_OFFER, answer_by_id, answer_question, is_real_question, offer,
)
from booking.calendar import TZ, NotBookable, is_workday
from console.handover import open_for_person
from vetbot.config import hotline
from vetbot.settings import SettingsError, settings

logger = logging.getLogger(__name__)

REPHRASE = "不好意思，我没听明白。能换个说法吗？比如“优待证怎么办”“评残要带什么材料”。"
OFFER_HUMAN = "我还是没弄明白您的意思，怕耽误您的事。给您转人工吧？"
# Actions whose reply may end in a yes/no question (they set the offered_payload slot).
OFFERING_ACTIONS = {"action_answer_policy", "action_inform", "action_more_policy", "action_fallback_rephrase"}


def staff_hours(value: str | None = None) -> tuple[time, time]:
    """When staff answer on a working day, from VETBOT_STAFF_HOURS ("08:30-17:00")."""
    value = settings().staff_hours if value is None else value
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", value or "")
    try:
        start, end = (time(int(match[1]), int(match[2])), time(int(match[3]), int(match[4]))) if match else (None, None)
    except ValueError:  # 25:00, 08:61
        start = end = None
    if start is None or start >= end:
        raise SettingsError(f"VETBOT_STAFF_HOURS={value!r}: should be like 08:30-17:00 (start before end)")
    return start, end


staff_hours()  # a malformed VETBOT_STAFF_HOURS stops the action server at start, naming the variable


def staff_on_duty(now: datetime | None = None) -> bool:
    """Inside staff hours on an official working day (调休 make-up days count), Beijing time."""
    now = (now or datetime.now(TZ)).astimezone(TZ)
    start, end = staff_hours()
    try:
        workday = is_workday(now.date())
    except NotBookable:  # a year the holiday calendar does not know yet: Monday to Friday
        workday = now.weekday() < 5
    return workday and start <= now.time() < end


def handoff_text(now: datetime | None = None) -> str:
    if staff_on_duty(now):
        return (f"好的，已经帮您转给工作人员，请稍等，工作人员马上在这里回复您。"
                f"着急的话也可以打电话：{hotline()}。")
    return (f"现在不是工作时间，工作时间会有人联系您。"
            f"着急的话请打电话：{hotline()}。")


async def hand_over(tracker: Tracker, reason: str) -> None:
    """Mark the conversation waiting for a person in the console's list (it alerts staff)."""
    try:
        await asyncio.to_thread(open_for_person, tracker.sender_id, tracker.get_latest_input_channel(), reason)
    except Exception:  # the veteran still gets the hotline; staff just do not see the alert
        logger.exception("Could not mark %s as waiting for a person", tracker.sender_id)


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
        await hand_over(tracker, "对方要求转人工")
        dispatcher.utter_message(text=handoff_text())
        return [offer(None)]


MISSES = "fallback_misses"  # messages in a row we could not make out (a slot, not the wording of our replies)


def previous_misses(tracker: Tracker) -> int:
    """Misses in a row before the current message: the counter holds only while nothing but this
    action answered in between (any other reply ends the run)."""
    if last_bot_action(tracker) != "action_fallback_rephrase":
        return 0
    return int(tracker.get_slot(MISSES) or 0)


class ActionFallbackRephrase(Action):
    def name(self) -> str:
        return "action_fallback_rephrase"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
        text = tracker.latest_message.get("text") or ""
        # An unclear intent may still be a policy question the knowledge base can answer.
        if is_real_question(text) and len(text) >= 6:
            probe = CollectingDispatcher()
            events = await answer_question(probe, text)
            if events is not None:
                dispatcher.messages.extend(probe.messages)
                return events + [SlotSet(MISSES, 0.0)]
        misses = previous_misses(tracker) + 1
        if misses >= 2:
            await hand_over(tracker, "机器人连续两次没听懂")
            dispatcher.utter_message(text=OFFER_HUMAN, buttons=[HUMAN_BUTTON])
            return [offer(HUMAN_PAYLOAD), SlotSet(MISSES, float(misses))]
        dispatcher.utter_message(text=REPHRASE)
        return [offer(None), SlotSet(MISSES, float(misses))]


def last_bot_action(tracker: Tracker) -> str | None:
    """The action that ran before the current user message."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            seen_user = True
        elif seen_user and event.get("event") == "action" and event.get("name") != "action_listen":
            return event.get("name")
    return None


class ActionAcceptOffer(Action):
    """"好的": take up what the bot just offered (a person, or the suggested passage)."""

    def name(self) -> str:
        return "action_accept_offer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
        payload = tracker.get_slot("offered_payload")
        if not payload or last_bot_action(tracker) not in OFFERING_ACTIONS:
            dispatcher.utter_message(response="utter_anything_else")
            return [offer(None)]
        if payload == HUMAN_PAYLOAD:
            await hand_over(tracker, "对方要求转人工")
            dispatcher.utter_message(text=handoff_text())
            return [offer(None)]
        return await answer_by_id(dispatcher, payload.removeprefix(POLICY_OFFER))
