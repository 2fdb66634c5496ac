"""Handing a veteran over to a person, the fallback that offers one after two misses, and
"好的 / 是的" after a yes/no question."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.policy import (
    HUMAN_BUTTON, HUMAN_PAYLOAD, POLICY_OFFER, answer_by_id, answer_question, is_real_question, offer,
)
from vetbot.config import hotline

REPHRASE = "不好意思，我没听明白。能换个说法吗？比如“优待证怎么办”“评残要带什么材料”。"
OFFER_HUMAN = "我还是没弄明白您的意思，怕耽误您的事。给您转人工吧？"
# Actions whose reply may end in a yes/no question (they set the offered_payload slot).
OFFERING_ACTIONS = {"action_answer_policy", "action_inform", "action_more_policy", "action_fallback_rephrase"}


def handoff_text() -> str:
    # No staff console yet: the honest hand-over is the hotline, nothing is promised beyond it.
    return f"请直接打电话找工作人员：{hotline()}。工作时间接通后说明您的情况，工作人员会帮您办理。"


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
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
            dispatcher.utter_message(text=handoff_text())
            return [offer(None)]
        return await answer_by_id(dispatcher, payload.removeprefix(POLICY_OFFER))
