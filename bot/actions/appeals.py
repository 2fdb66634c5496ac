"""诉求 in the conversation: thin Rasa actions over appeals.dialogue (what is asked and understood),
appeals.classify / appeals.urgency (category and danger from the veteran's words) and
appeals.service (what is stored). Like the booking forms, the validation actions are plain
actions named validate_<form> (helper slots kept) and every slot has a custom mapping."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from appeals import dialogue as talk
from appeals import notices, service
from appeals.classify import propose
from appeals.texts import next_steps_text, status_text
from appeals.urgency import urgent_signals
from appeals.workflow import load_workflow
from booking import dialogue as booking_talk
from booking.calendar import TZ
from booking.pii import unseal
from bot.actions.form_common import REDIRECTS, actor_of, affirmed, events, in_db, intent_of, miss, text_of
from vetbot.config import hotline

APPEAL_SLOTS = ("appeal_parts", "appeal_description", "appeal_urgent", "appeal_offered",
                "appeal_category", "appeal_name", "appeal_phone", "appeal_town", "appeal_visit",
                "appeal_confirm", "appeal_misses")
COUNTER = "appeal_misses"
STOP_WORDS = ("算了", "不说了", "不反映了", "不登记了", "不提交", "不办了")  # not 不用了: "no visit needed"
ASK_LOOKUP = "请告诉我诉求编号（7位字母和数字），或者反映时留的手机号。"
CHANGES = ((("内容", "情况", "说的"), ("appeal_description", "appeal_parts", "appeal_category")),
           (("类别", "类型", "分类"), ("appeal_category",)), (("姓名", "名字"), ("appeal_name",)),
           (("手机", "电话"), ("appeal_phone",)), (("地址", "镇", "村", "住"), ("appeal_town",)),
           (("上门", "走访"), ("appeal_visit",)))


def _categories() -> dict[str, str]:
    return {c.id: c.label for c in load_workflow().categories}


def _category_said(text: str) -> str | None:
    said = booking_talk.compact(text)
    return next((cid for cid, label in _categories().items() if label in said), None)


def _is_stop(text: str, tracker: Tracker) -> bool:
    said = booking_talk.compact(text)
    return intent_of(tracker) in ("deny", "cancel_booking") and any(w in said for w in STOP_WORDS)


async def _with_part(dispatcher, tracker: Tracker, text: str) -> dict:
    """Add a message to the description; danger in it is answered at once, and staff alerted."""
    parts = talk.add_part(tracker.get_slot("appeal_parts"), text)
    values = {"appeal_parts": parts, "appeal_description": talk.description_of(parts)}
    known = list(tracker.get_slot("appeal_urgent") or [])
    # the whole description, not just this message: 我爸 … 昨天走了 may come in two pieces
    found = [s for s in urgent_signals(values["appeal_description"]) if s not in known]
    if found:
        if not known:
            dispatcher.utter_message(text=talk.urgent_reply())
        await in_db(lambda s: notices.alert_urgent_chat(
            s, channel=tracker.get_latest_input_channel(), sender_id=tracker.sender_id, text=text,
            signals=found, day=datetime.now(TZ).date()))
        values["appeal_urgent"] = known + found
    return values


class ValidateAppealForm(Action):
    def name(self) -> str:
        return "validate_appeal_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
        asked, text = tracker.get_slot("requested_slot"), text_of(tracker)
        if asked is None:  # a new appeal: nothing carried over; the first message may be the matter
            values = {slot: None for slot in APPEAL_SLOTS if tracker.get_slot(slot) is not None}
            if talk.is_substantive(text):
                values |= await _with_part(dispatcher, tracker, text)
            return events(values)
        if _is_stop(text, tracker):
            return []  # the rules stop the form, nothing saved
        if asked not in ("appeal_description", "appeal_confirm") and intent_of(tracker) == "ask_policy" \
                and booking_talk.is_question(text):
            return []  # a policy question mid-form: answered by the rules, then the form asks again
        if asked in ("appeal_description", "appeal_category"):
            return events(await self._matter(dispatcher, tracker, asked, text))
        if asked == "appeal_name":
            value = booking_talk.read_name(text).slots.get("booking_name")
            return events({"appeal_name": value, COUNTER: 0.0} if value else
                          self._wrong(dispatcher, tracker, booking_talk.NAME_FORMAT))
        if asked == "appeal_phone":
            step = booking_talk.read_phone(text)
            return events({"appeal_phone": step.slots["booking_phone"], COUNTER: 0.0} if step.slots else
                          self._wrong(dispatcher, tracker, step.say[0]))
        if asked == "appeal_town":
            town = talk.read_town(text)
            return events({"appeal_town": town, COUNTER: 0.0} if town else
                          self._wrong(dispatcher, tracker, "请说镇（街道）和村（社区）的名字，比如“乍浦镇 雅山村”。"))
        if asked == "appeal_visit":
            visit = talk.read_visit(text)
            return events({"appeal_visit": visit, COUNTER: 0.0} if visit is not None else
                          self._wrong(dispatcher, tracker, "需要上门请回复“需要”，不需要请回复“不用”。"))
        return events(await self._confirm(dispatcher, tracker, text))

    @staticmethod
    def _wrong(dispatcher, tracker: Tracker, explain: str) -> dict:
        return miss(dispatcher, tracker, explain, counter=COUNTER)

    @staticmethod
    async def _matter(dispatcher, tracker: Tracker, asked: str, text: str) -> dict:
        """The description, and at the category question a category — or more of the matter."""
        if asked == "appeal_category":
            offered = tracker.get_slot("appeal_offered") or []
            chosen = _category_said(text)
            if chosen is None and offered and (affirmed(tracker) or booking_talk.read_confirm(text)[0] == "yes"):
                chosen = offered[0]
            if chosen:
                return {"appeal_category": chosen, COUNTER: 0.0}
        if text.startswith("/") or not text.strip():
            return {}
        if talk.is_finished(text):  # 说完了 / 没有了: nothing to add; the question is asked again
            return {COUNTER: 0.0}
        return await _with_part(dispatcher, tracker, text) | {"appeal_category": None}

    async def _confirm(self, dispatcher, tracker: Tracker, text: str) -> dict:
        said = booking_talk.compact(text)
        if "改" in said:
            for words, slots in CHANGES:
                if any(w in said for w in words):
                    return {slot: None for slot in slots} | {"appeal_confirm": None}
            dispatcher.utter_message(text="要改哪一项？比如“改内容”“改手机号”“改地址”。")
            return {COUNTER: 0.0}
        verdict, _ = booking_talk.read_confirm(text)
        if verdict != "yes" and not affirmed(tracker):
            dispatcher.utter_message(text="确认提交请回复“确认”；要改就说“改一下”；不提交了说“算了”。",
                                     buttons=talk.CONFIRM_BUTTONS)
            return {COUNTER: 0.0}
        slots = dict(tracker.slots)
        reference = await in_db(lambda s: _file(s, slots, tracker))
        return {"appeal_confirm": "yes", "appeal_reference": reference}


def _file(session, slots: dict, tracker: Tracker) -> str:
    """Committed when in_db's transaction ends — before the veteran is told it is filed."""
    channel = tracker.get_latest_input_channel()
    town = slots["appeal_town"]
    appeal = service.file_appeal(
        session, description=slots["appeal_description"], category=slots["appeal_category"],
        name=slots["appeal_name"], phone=unseal(slots["appeal_phone"]["sealed"]), town=town["said"],
        visit_wanted=bool(slots["appeal_visit"]), urgent_signals=slots.get("appeal_urgent") or [],
        channel=channel, sender_id=tracker.sender_id, actor=actor_of(tracker),
        dedupe_key=talk.dedupe_key(channel, tracker.sender_id, slots["appeal_description"],
                                   datetime.now(TZ).date()))
    return appeal.reference


class AskAppealDescription(Action):
    def name(self) -> str:
        return "action_ask_appeal_description"

    async def run(self, dispatcher, tracker: Tracker, domain):
        dispatcher.utter_message(text="有什么情况，请直接说给我听，说得越具体越好（什么事、多久了、找过谁）。"
                                      "可以分几条发。我们按“四必回应”办：有诉求必受理、有困难必走访。")
        return []


class AskAppealCategory(Action):
    def name(self) -> str:
        return "action_ask_appeal_category"

    async def run(self, dispatcher, tracker: Tracker, domain):
        offered, _ = propose(tracker.get_slot("appeal_description") or "")
        labels = _categories()
        offered = [c for c in offered if c in labels][:3]
        rest = [c for c in labels if c not in offered]
        buttons = [{"title": labels[c], "payload": labels[c]} for c in offered + rest[-1:]]
        question = (f"记下了。您反映的是“{labels[offered[0]]}”方面的事吗？对的话点第一个；不对请点正确的类别。"
                    if offered else "记下了。这件事属于哪一类？")
        dispatcher.utter_message(text=question + "还有要补充的，可以直接接着说。", buttons=buttons)
        return [SlotSet("appeal_offered", offered)]


class AskAppealConfirm(Action):
    def name(self) -> str:
        return "action_ask_appeal_confirm"

    async def run(self, dispatcher, tracker: Tracker, domain):
        label = _categories()[tracker.get_slot("appeal_category")]
        dispatcher.utter_message(text=talk.summary(tracker.slots, label) + "\n确认无误请回复“确认”。",
                                 buttons=talk.CONFIRM_BUTTONS)
        return []


class ActionAppealDone(Action):
    """After the form: the ticket number and what happens next, with the time limits."""

    def name(self) -> str:
        return "action_appeal_done"

    async def run(self, dispatcher, tracker: Tracker, domain):
        reference = tracker.get_slot("appeal_reference")
        text = await in_db(lambda s: next_steps_text(service.get_by_reference(s, reference)))
        dispatcher.utter_message(text=f"已经登记好了，诉求编号：{reference}（请记好，查进度用它）。\n{text}")
        lookup = {"references": [reference], "phone": tracker.get_slot("appeal_phone")}
        return events({slot: None for slot in APPEAL_SLOTS} | {"appeal_lookup": lookup})


class ActionAppealStop(Action):
    def name(self) -> str:
        return "action_appeal_stop"

    async def run(self, dispatcher, tracker: Tracker, domain):
        told = "您说的紧急情况已经告诉了工作人员。" if tracker.get_slot("appeal_urgent") else ""
        dispatcher.utter_message(text=f"好的，先不登记了，刚才说的没有保存成诉求。{told}"
                                      f"有需要随时找我，也可以打电话：{hotline()}。")
        return [ActiveLoop(None), SlotSet("requested_slot", None)] + events(
            {slot: None for slot in APPEAL_SLOTS + ("appeal_lookup_reference", "appeal_addition")})


# ---- where it stands, adding to it ---------------------------------------------------------

class ValidateAppealLookup(Action):
    """The ticket number or the phone used; with a number, the phone is the check."""

    form = "appeal_status_form"

    def name(self) -> str:
        return f"validate_{self.form}"

    async def run(self, dispatcher, tracker: Tracker, domain):
        asked, text = tracker.get_slot("requested_slot"), text_of(tracker)
        if asked == "appeal_addition":
            return events(self._addition(tracker, text))
        if tracker.get_slot("appeal_lookup") and asked is None:
            return []  # known from earlier in this conversation
        reference = booking_talk.read_reference(text) or tracker.get_slot("appeal_lookup_reference")
        phone = booking_talk.phone_in(text)
        if phone:
            found = await in_db(lambda s: _references(s, reference, phone))
            if found:
                return events({"appeal_lookup": {"references": found, "phone": booking_talk.sealed_phone(phone)},
                               "appeal_lookup_reference": None, COUNTER: 0.0})
            explain = "编号和手机号对不上，没有找到。请核对后再发。" if reference else "这个手机号下没有查到诉求。请核对，或者告诉我诉求编号。"
            return events({"appeal_lookup_reference": None} | miss(dispatcher, tracker, explain, counter=COUNTER))
        if reference:
            return events({"appeal_lookup_reference": reference})
        if asked is None or intent_of(tracker) in REDIRECTS:
            return []
        return events(miss(dispatcher, tracker, ASK_LOOKUP, counter=COUNTER))

    @staticmethod
    def _addition(tracker: Tracker, text: str) -> dict:
        if not text.strip() or text.startswith("/") or _is_stop(text, tracker):
            return {}
        return {"appeal_addition": text.strip()[:talk.MAX_DESCRIPTION]}


class ValidateAppealAdd(ValidateAppealLookup):
    form = "appeal_add_form"


def _references(session, reference: str | None, phone: str) -> list[str]:
    if reference:
        return [reference] if service.get_by_reference(session, reference, phone=phone) else []
    return [a.reference for a in service.find_by_phone(session, phone, open_only=False)]


class AskAppealLookup(Action):
    def name(self) -> str:
        return "action_ask_appeal_lookup"

    async def run(self, dispatcher, tracker: Tracker, domain):
        if tracker.get_slot("appeal_lookup_reference"):
            dispatcher.utter_message(text="为了核对是您本人，请发一下反映时留的手机号。")
        else:
            dispatcher.utter_message(text=ASK_LOOKUP)
        return []


def _lookup(tracker: Tracker) -> tuple[list[str], str]:
    found = tracker.get_slot("appeal_lookup")
    return found["references"], unseal(found["phone"]["sealed"])


class ActionAppealStatus(Action):
    def name(self) -> str:
        return "action_appeal_status"

    async def run(self, dispatcher, tracker: Tracker, domain):
        references, phone = _lookup(tracker)
        today = datetime.now(TZ).date()
        texts = await in_db(lambda s: [
            f"诉求{r}：" + status_text(service.get_by_reference(s, r, phone=phone), today)
            for r in references])
        dispatcher.utter_message(text="\n".join(texts), buttons=[
            {"title": "补充情况", "payload": "/add_to_appeal"}, {"title": "转人工", "payload": "/request_human"}])
        return []


class ActionAppealAdded(Action):
    def name(self) -> str:
        return "action_appeal_added"

    async def run(self, dispatcher, tracker: Tracker, domain):
        references, phone = _lookup(tracker)
        addition = tracker.get_slot("appeal_addition")

        def add(session):
            open_ones = [a for a in (service.get_by_reference(session, r, phone=phone) for r in references)
                         if a is not None and not a.closed]
            if not open_ones:
                return None
            target = max(open_ones, key=lambda a: a.created_at)
            service.add_to_appeal(session, target.reference, addition, actor=actor_of(tracker))
            return target.reference

        reference = await in_db(add)
        if reference is None:
            dispatcher.utter_message(text=f"您的诉求都已经办结了。还有新的情况，可以说“我要反映”重新登记，或打电话：{hotline()}。")
        else:
            dispatcher.utter_message(text=f"已经补充到诉求{reference}里了，工作人员会看到。")
        return [SlotSet("appeal_addition", None)]


class ActionAppealFeedback(Action):
    """满意 / 不满意: the answer to the 回访 question, for this conversation's appeal waiting for it."""

    def name(self) -> str:
        return "action_appeal_feedback"

    async def run(self, dispatcher, tracker: Tracker, domain):
        text = text_of(tracker)
        satisfied = talk.read_satisfaction(text)
        channel, sender = tracker.get_latest_input_channel(), tracker.sender_id

        def answer(session):
            waiting = service.awaiting_feedback(session, channel=channel, sender_id=sender)
            if not waiting or satisfied is None:
                return None, len(waiting)
            appeal = service.answer_follow_up(session, waiting[0].reference, satisfied=satisfied,
                                              said=text, actor=actor_of(tracker))
            return appeal, len(waiting)

        appeal, waiting = await in_db(answer)
        if appeal is None and waiting:
            dispatcher.utter_message(text="您对办理结果满意吗？请回复“满意”或“不满意”。",
                                     buttons=[{"title": "满意", "payload": "满意"},
                                              {"title": "不满意", "payload": "不满意"}])
        elif appeal is None and satisfied is False:  # a complaint, not an answer to 回访
            dispatcher.utter_message(text="您对哪件事不满意？要反映的话，点“我要反映”，我帮您登记。",
                                     buttons=[{"title": "我要反映", "payload": "/file_appeal"},
                                              {"title": "转人工", "payload": "/request_human"}])
        elif appeal is None:
            dispatcher.utter_message(text="谢谢您！还有别的事，直接跟我说。")
        elif satisfied:
            dispatcher.utter_message(text=f"谢谢您的评价！诉求{appeal.reference}已办结。以后有事随时找我们。")
        else:
            dispatcher.utter_message(text=f"对不起，没让您满意。诉求{appeal.reference}已经重新交给工作人员办理，"
                                          + status_text(appeal, datetime.now(TZ).date()))
        return []
