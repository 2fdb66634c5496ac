"""Policy Q&A: answer from the knowledge base with the source, or say honestly that we don't know."""
from __future__ import annotations

import asyncio
import logging
import re
import threading
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from booking.catalogue import load_catalogue
from bot.routing import GRIEVANCE
from booking.where import how_long, where_to_apply
from knowledge import gaps
from knowledge.answer import compose, compose_full
from knowledge.aspects import asked_aspect
from knowledge.context import names_nothing, with_topic, without_personal_numbers
from knowledge.region import ABROAD, other_place
from knowledge.search import RELATED_MARGIN
from knowledge.service import get_knowledge_base
from vetbot.settings import settings

log = logging.getLogger(__name__)

HUMAN_PAYLOAD = "/request_human"
POLICY_OFFER = "policy:"  # offered_payload value for a suggested passage: "policy:<id>"
MORE_BUTTON = {"title": "看更多", "payload": "/ask_more"}
HUMAN_BUTTON = {"title": "转人工", "payload": HUMAN_PAYLOAD}
APPEAL_BUTTON = {"title": "我要反映这件事", "payload": "/file_appeal"}
NOT_FOUND = "这个问题我在政策库里没有找到可靠的答案，不敢乱说。要转人工问问工作人员吗？"
KB_DOWN = "政策库暂时用不了，请稍后再试，或者转人工问工作人员。"
PASSAGE_GONE = "您选的这条政策内容刚刚更新过，已经不在政策库里了。请把您的问题再说一遍，我按最新的政策帮您查；也可以转人工。"
BOOK_BUTTON = {"title": "预约代办", "payload": "/book_service"}
FOLLOW_UP_CANDIDATES = 10
NATIONAL = "全国"  # the region of a national rule (knowledge/passage.py)
HOW_LONG = re.compile("多久|多长时间|几天能|办好|办下来|办完")
GENERIC_WORDS = {"政策", "咨询", "政策咨询", "问题", "问一下", "请问", "你好", "您好"}
_HAN = re.compile(r"[\u4e00-\u9fff]")


def is_real_question(text: str) -> bool:
    """A button payload such as /ask_policy or a bare "政策" carries no question to look up;
    a short topic such as "评残" does."""
    text = text.strip().strip("？?。!！")
    return not text.startswith("/") and text not in GENERIC_WORDS and len(_HAN.findall(text)) >= 2


def _kb_call(fn):
    # Encoding runs torch on the CPU: keep it off the event loop.
    return asyncio.get_running_loop().run_in_executor(None, fn)


async def search(question: str, top_k: int, margin: float = 0.0):
    return await _kb_call(lambda: get_knowledge_base().search(question, top_k=top_k, margin=margin))


def offer(payload: str | None) -> SlotSet:
    """Remember what "好的/是的" would accept after a yes/no question (see action_accept_offer)."""
    return SlotSet("offered_payload", payload)


def show_answer(dispatcher: CollectingDispatcher, hit, question: str) -> list[dict]:
    """The short answer with its source; "看更多" then continues from `question`. A question that
    sounds like a grievance (优待金一直没发) also gets the way to file it as an appeal."""
    buttons = [MORE_BUTTON, HUMAN_BUTTON] + ([APPEAL_BUTTON] if GRIEVANCE.search(question) else [])
    dispatcher.utter_message(text=compose(hit, question), buttons=buttons)
    return [SlotSet("last_policy_query", question), SlotSet("policy_shown", 1.0),
            SlotSet("policy_full_shown", False), SlotSet("policy_answer_id", hit.passage.id), offer(None)]


def kb_down(dispatcher: CollectingDispatcher) -> list[dict]:
    """The veteran gets a plain apology and a person; the log gets the details."""
    log.exception("knowledge search failed")
    dispatcher.utter_message(text=KB_DOWN, buttons=[HUMAN_BUTTON])
    return [offer(HUMAN_PAYLOAD)]


async def answer_question(dispatcher: CollectingDispatcher, question: str) -> list[dict] | None:
    """Reply with the best passage, or ask "did you mean …?" when one is nearly relevant enough.
    Returns the slot events of the reply, or None when nothing relevant was found (the reply
    then offers a person)."""
    try:
        hits = await search(question, top_k=1)
        near = [] if hits else await search(question, top_k=1, margin=RELATED_MARGIN)
    except Exception:
        return kb_down(dispatcher)
    if hits:
        return show_answer(dispatcher, hits[0], question)
    if near:
        # The button asks for exactly that passage, so the answer cannot drift or loop.
        passage = near[0].passage
        payload = f'/ask_policy{{"policy_id": "{passage.id}"}}'
        dispatcher.utter_message(text=f"这个问题我没有十足把握。您是想问“{passage.title}”吗？",
                                 buttons=[{"title": f"是，{passage.title}", "payload": payload}, HUMAN_BUTTON])
        await gaps.note(question, gaps.DID_YOU_MEAN, passage.id)
        return [offer(POLICY_OFFER + passage.id)]
    # Not in the rules, but something not done for the veteran (优待金发了没): a person, or an appeal.
    dispatcher.utter_message(text=NOT_FOUND, buttons=[HUMAN_BUTTON] + ([APPEAL_BUTTON] if GRIEVANCE.search(question) else []))
    await gaps.note(question, gaps.REFUSED)
    return None


async def answer_for_other_place(dispatcher: CollectingDispatcher, question: str) -> list[dict] | None:
    """上海的一次性补助多少: we hold no Shanghai rules. Say so, and give the national rule on the
    same thing where there is one. None when the question names no other place."""
    place = other_place(question)
    if not place:
        return None
    ours = "我这里只有国家、浙江省和平湖市的政策，"
    if place in ABROAD:
        return await _refuse_for_other_place(dispatcher, question, f"{ours}{place}的事我答不了。")
    note = f"{ours}{place}的具体规定要问当地的退役军人事务部门。"
    try:
        hits = await search(question.replace(place, ""), top_k=5)
    except Exception:
        return kb_down(dispatcher)
    national = [hit for hit in hits if hit.passage.region == NATIONAL]
    if not national:
        return await _refuse_for_other_place(dispatcher, question, note)
    dispatcher.utter_message(text=note + "国家的规定是这样的：")
    return show_answer(dispatcher, national[0], question)


async def _refuse_for_other_place(dispatcher: CollectingDispatcher, question: str, text: str) -> list[dict]:
    dispatcher.utter_message(text=text, buttons=[HUMAN_BUTTON])
    await gaps.note(question, gaps.REFUSED)
    return [offer(HUMAN_PAYLOAD)]


def answer_from_catalogue(dispatcher: CollectingDispatcher, question: str) -> list[dict] | None:
    """评残去哪里办 / 多久能办好: said from the service catalogue the booking uses, with the
    way to book; None when the question is not about the place or time of a catalogue service."""
    aspect = asked_aspect(question)
    if aspect not in ("place", "time_limit") or (aspect == "time_limit" and not HOW_LONG.search(question)):
        return None
    catalogue = load_catalogue()
    services = catalogue.find_service(re.sub(r"\s", "", question))
    if not services:
        return None
    text = where_to_apply(catalogue, services) if aspect == "place" else how_long(services)
    dispatcher.utter_message(text=text, buttons=[BOOK_BUTTON, HUMAN_BUTTON])
    return [SlotSet("last_policy_query", question), offer(None)]


async def answer_follow_up(dispatcher: CollectingDispatcher, question: str, previous: str) -> list[dict] | None:
    """A follow-up is about what was just answered: the best passage for it among the entries of
    the previous answer's category (no relevance gate: the topic is the one just answered).
    None when that category has nothing for it."""
    try:
        # The passage shown follows from the question kept in last_policy_query (its vector is cached).
        shown = await search(previous, top_k=1, margin=RELATED_MARGIN)
        if not shown:
            return None
        candidates = await _kb_call(lambda: get_knowledge_base().search(question, top_k=FOLLOW_UP_CANDIDATES,
                                                                       strict=False))
    except Exception:
        return kb_down(dispatcher)
    same_topic = [hit for hit in candidates if hit.passage.category == shown[0].passage.category]
    return show_answer(dispatcher, same_topic[0], question) if same_topic else None


async def answer_by_id(dispatcher: CollectingDispatcher, passage_id: str) -> list[dict]:
    try:
        hit = await _kb_call(lambda: get_knowledge_base().hit_by_id(passage_id))
    except Exception:
        return kb_down(dispatcher)
    if hit is None:
        # Removed by a rebuild since it was suggested: say so, rather than silently asking
        # for a question the veteran has just answered by picking it.
        dispatcher.utter_message(text=PASSAGE_GONE, buttons=[HUMAN_BUTTON])
        return [offer(None)]
    return show_answer(dispatcher, hit, hit.passage.title)


class ActionAnswerPolicy(Action):
    def name(self) -> str:
        return "action_answer_policy"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
        passage_id = next(tracker.get_latest_entity_values("policy_id"), None)
        if passage_id:
            return await answer_by_id(dispatcher, passage_id)
        question = without_personal_numbers(tracker.latest_message.get("text") or "")
        if not is_real_question(question):
            dispatcher.utter_message(response="utter_ask_policy_question")
            return [offer(None)]
        previous = tracker.get_slot("last_policy_query")
        if not previous and names_nothing(question):
            # 要钱吗 / 咋弄 with nothing asked before: ask what it is about rather than guess.
            dispatcher.utter_message(response="utter_ask_policy_question")
            return [offer(None)]
        query = with_topic(question, previous)  # 那要带什么材料 after 评残怎么申请 is asked about 评残
        # The entry answered from is set by show_answer; a reply from no entry clears it.
        return [SlotSet("policy_answer_id", None)] + (
            await answer_for_other_place(dispatcher, query)
            or answer_from_catalogue(dispatcher, query)
            # 要带什么 asks only an aspect: the entries of the topic just answered, no gate; 一个月多少
            # also says something of its own, so the rewritten question must pass the gate.
            or (query != question and names_nothing(question) and await answer_follow_up(dispatcher, query, previous))
            or await answer_question(dispatcher, query) or [offer(HUMAN_PAYLOAD)])


class ActionInform(Action):
    """A bare value. A service name ("评残", "带病回乡") means "tell me about it"; anything else
    (a phone number, a town) gets the menu of what we can do."""

    def name(self) -> str:
        return "action_inform"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
        question = tracker.latest_message.get("text") or ""
        if next(tracker.get_latest_entity_values("service"), None) and is_real_question(question):
            return await answer_question(dispatcher, question) or [offer(HUMAN_PAYLOAD)]
        dispatcher.utter_message(response="utter_noted_info")
        return [offer(None)]


class ActionMorePolicy(Action):
    """"看更多": first the whole of the passage just summarised, then the next related ones."""

    def name(self) -> str:
        return "action_more_policy"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
        question = tracker.get_slot("last_policy_query")
        shown = int(tracker.get_slot("policy_shown") or 0)
        if not question:
            dispatcher.utter_message(response="utter_ask_policy_question")
            return []
        full_shown = bool(tracker.get_slot("policy_full_shown"))
        try:
            hits = await search(question, top_k=1 if not full_shown else shown + 2, margin=RELATED_MARGIN)
        except Exception:
            return kb_down(dispatcher)
        if not full_shown and hits:
            dispatcher.utter_message(text=compose_full(hits[0]), buttons=[MORE_BUTTON, HUMAN_BUTTON])
            return [SlotSet("policy_full_shown", True), SlotSet("policy_answer_id", hits[0].passage.id)]
        hits = hits[shown:]
        if not hits:
            dispatcher.utter_message(text="相关的内容就这些了。还不清楚的话，可以转人工问问。", buttons=[HUMAN_BUTTON])
            return [offer(HUMAN_PAYLOAD)]
        for hit in hits:
            dispatcher.utter_message(text=compose(hit, question))
        dispatcher.utter_message(text="还想了解别的，直接问我就行。", buttons=[HUMAN_BUTTON])
        return [SlotSet("policy_shown", float(shown + len(hits)))]


def _warm_up() -> None:
    """Load the model and index in the background so the first veteran does not wait."""
    try:
        get_knowledge_base().search("优待证", top_k=1)
    except Exception:
        log.warning("knowledge base not ready yet; it is loaded on the first question", exc_info=True)


if settings().warm_up:  # set by the Procfile for the action server
    threading.Thread(target=_warm_up, name="kb-warm-up", daemon=True).start()
