"""Handing a veteran over to a person, and the fallback that offers one after two misses."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.policy import answer_question, is_real_question
from vetbot.config import hotline

HUMAN_BUTTON = {"title": "转人工", "payload": "/request_human"}
REPHRASE = "不好意思，我没听明白。能换个说法吗？比如“优待证怎么办”“评残要带什么材料”。"
OFFER_HUMAN = "我还是没弄明白您的意思，怕耽误您的事。给您转人工吧？"


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
        dispatcher.utter_message(
            text=f"好的，给您转人工。工作人员看到后会尽快回复您；着急的话可以直接打电话：{hotline()}。"
        )
        return []


def misses_in_a_row(tracker: Tracker) -> int:
    """How many of the latest user messages in a row the NLU did not understand."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        if (event.get("parse_data") or {}).get("intent", {}).get("name") != "nlu_fallback":
            break
        count += 1
    return count


class ActionFallbackRephrase(Action):
    def name(self) -> str:
        return "action_fallback_rephrase"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
        text = tracker.latest_message.get("text") or ""
        # An unclear intent may still be a policy question the knowledge base can answer.
        if is_real_question(text) and len(text) >= 6:
            probe = CollectingDispatcher()
            if await answer_question(probe, text):
                dispatcher.messages.extend(probe.messages)
                return []
        if misses_in_a_row(tracker) >= 2:
            dispatcher.utter_message(text=OFFER_HUMAN, buttons=[HUMAN_BUTTON])
        else:
            dispatcher.utter_message(text=REPHRASE)
        return []
