"""Policy Q&A: answer from the knowledge base with the source, or say honestly that we don't know."""
from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from knowledge.answer import compose
from knowledge.search import RELATED_MARGIN
from knowledge.service import get_knowledge_base

log = logging.getLogger(__name__)

MORE_BUTTON = {"title": "看更多", "payload": "/ask_more"}
HUMAN_BUTTON = {"title": "转人工", "payload": "/request_human"}
SUGGEST_MARGIN = 0.02  # below the answer threshold but this close: ask "did you mean …?"
NOT_FOUND = "这个问题我在政策库里没有找到可靠的答案，不敢乱说。我帮您转人工问问工作人员，好吗？"
KB_DOWN = "政策库暂时用不了，请稍后再试，或者转人工问工作人员。"
_HAN = re.compile(r"[\u4e00-\u9fff]")


def is_real_question(text: str) -> bool:
    """A button payload such as /ask_policy or a bare "政策" carries no question to look up."""
    text = text.strip()
    return not text.startswith("/") and len(_HAN.findall(text)) >= 3


async def search(question: str, top_k: int, margin: float = 0.0):
    # Encoding runs torch on the CPU: keep it off the event loop.
    return await asyncio.get_running_loop().run_in_executor(
        None, lambda: get_knowledge_base().search(question, top_k=top_k, margin=margin)
    )


async def answer_question(dispatcher: CollectingDispatcher, question: str) -> bool:
    """Reply with the best passage, or ask "did you mean …?" when one is nearly relevant enough.
    Returns False when nothing relevant was found (the reply then offers a person)."""
    try:
        hits = await search(question, top_k=1)
        near = [] if hits else await search(question, top_k=1, margin=SUGGEST_MARGIN)
    except Exception:  # the veteran gets a plain apology, the log gets the details
        log.exception("knowledge search failed")
        dispatcher.utter_message(text=KB_DOWN, buttons=[HUMAN_BUTTON])
        return True
    if hits:
        dispatcher.utter_message(text=compose(hits[0]), buttons=[MORE_BUTTON, HUMAN_BUTTON])
        return True
    if near:
        # The button re-asks with the entry's own title, which the search then answers surely.
        title = near[0].passage.title
        dispatcher.utter_message(text=f"这个问题我没有十足把握。您是想问“{title}”吗？",
                                 buttons=[{"title": f"是，{title}", "payload": title}, HUMAN_BUTTON])
        return True
    dispatcher.utter_message(text=NOT_FOUND, buttons=[HUMAN_BUTTON])
    return False


class ActionAnswerPolicy(Action):
    def name(self) -> str:
        return "action_answer_policy"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
        question = tracker.latest_message.get("text") or ""
        if not is_real_question(question):
            dispatcher.utter_message(response="utter_ask_policy_question")
            return []
        await answer_question(dispatcher, question)
        return [SlotSet("last_policy_query", question), SlotSet("policy_shown", 1.0)]


class ActionMorePolicy(Action):
    def name(self) -> str:
        return "action_more_policy"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
        question = tracker.get_slot("last_policy_query")
        shown = int(tracker.get_slot("policy_shown") or 0)
        if not question:
            dispatcher.utter_message(response="utter_ask_policy_question")
            return []
        try:
            hits = (await search(question, top_k=shown + 2, margin=RELATED_MARGIN))[shown:]
        except Exception:
            log.exception("knowledge search failed")
            dispatcher.utter_message(text=KB_DOWN, buttons=[HUMAN_BUTTON])
            return []
        if not hits:
            dispatcher.utter_message(text="相关的内容就这些了。还不清楚的话，可以转人工问问。", buttons=[HUMAN_BUTTON])
            return []
        for hit in hits:
            dispatcher.utter_message(text=compose(hit))
        dispatcher.utter_message(text="还想了解别的，直接问我就行。", buttons=[HUMAN_BUTTON])
        return [SlotSet("policy_shown", float(shown + len(hits)))]


def _warm_up() -> None:
    """Load the model and index in the background so the first veteran does not wait."""
    try:
        get_knowledge_base().search("优待证", top_k=1)
    except Exception:
        log.warning("knowledge base not ready yet; it is loaded on the first question", exc_info=True)


if os.environ.get("VETBOT_WARM_UP") == "1":  # set by the Procfile for the action server
    threading.Thread(target=_warm_up, name="kb-warm-up", daemon=True).start()
