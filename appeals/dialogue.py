"""What the appeal (诉求) conversation asks and understands, without Rasa: the veteran's own words
(one message or several), the category proposed from them, name, mobile, town or village, whether
a visit is wanted, the read-back. The Rasa actions in bot/actions/appeals.py move values between
these functions, the tracker and appeals.service."""
from __future__ import annotations

import hashlib
import re
from datetime import date

from booking.catalogue import load_catalogue
from booking.dialogue import compact
from vetbot.config import hotline

# What only says "I want to report something", with nothing of the matter itself.
TRIGGER_WORDS = re.compile(
    "我要|我想|想要|想|要|反映|反应|一下|个|点|问题|情况|事情|事|诉求|提|投诉|举报|申诉|登记|信访|上访|找|领导|局长|信箱|"
    "写信|有|给你们|你们|帮我|请|的|了|吗|呢|啊|吧|[，。,.!！?？\\s]")
FINISHED = re.compile("^(说完了|说完|没有了|没了|没有|就这些|就这些了|就这样|完了|好了|没别的了|没其他的了|讲完了)$")
YES = re.compile("^(要|需要|要的|需要的|好|好的|是|是的|来吧|上门|要上门|请上门|可以)")
NO = re.compile("^(不用|不要|不需要|不必|没必要|不用了|不用上门|电话说就行|打电话就行)")
UNSATISFIED = re.compile("不满意|不太满意|不怎么满意|没解决|没有解决|还是不行|没办好|没用")
SATISFIED = re.compile("满意|解决了|办好了|挺好|很好|可以了")
MAX_DESCRIPTION = 2000  # characters kept of what the veteran says (a runaway paste is cut, not refused)


def is_substantive(text: str) -> bool:
    """我要反映个问题 says nothing of the matter; 优待金到现在还没到账 does."""
    return len(TRIGGER_WORDS.sub("", compact(text))) >= 4


def is_finished(text: str) -> bool:
    return bool(FINISHED.match(compact(text).strip("。！!，,")))


def add_part(parts: list[str] | None, text: str) -> list[str]:
    """The description so far with this message added (voice input comes in pieces)."""
    parts = list(parts or [])
    room = MAX_DESCRIPTION - sum(len(p) for p in parts)
    if room > 0 and text.strip():
        parts.append(text.strip()[:room])
    return parts


def description_of(parts: list[str]) -> str:
    return "\n".join(parts)


def read_satisfaction(text: str) -> bool | None:
    """The answer to 回访: True 满意, False 不满意 (or 没解决), None when it is neither."""
    said = compact(text)
    if UNSATISFIED.search(said):
        return False
    if SATISFIED.search(said):
        return True
    return None


def read_visit(text: str) -> bool | None:
    said = compact(text).strip("。！!，,")
    if NO.match(said):
        return False
    if YES.match(said):
        return True
    return None


def read_town(text: str) -> dict | None:
    """The town or village said: the station that serves it when we know the place, and the
    words as said (a village we do not list is still kept, for the staff to read)."""
    said = re.sub("^(我住在|我住|住在|家住|家在|我家在|我是)", "", compact(text).strip("。！!，,"))
    if not said or len(said) > 30 or not re.search("[\u4e00-\u9fff]", said):
        return None
    place = load_catalogue().nearest_location(said)
    return {"said": said, "station": place.id if place else None}


def dedupe_key(channel: str | None, sender_id: str, description: str, day: date) -> str:
    """The same appeal from the same conversation on the same day is one ticket, however often
    the confirmation is delivered (a channel retry, a double tap)."""
    digest = hashlib.sha256(compact(description).encode()).hexdigest()[:24]
    return f"appeal:{channel or 'chat'}:{sender_id}:{day.isoformat()}:{digest}"


def urgent_reply() -> str:
    return ("您说的情况很要紧，我们会马上请工作人员联系您。如果有生命危险或危险正在发生，请马上打110"
            f"（急救打120）。也可以直接打电话：{hotline()}。")


def summary(slots: dict, category_label: str) -> str:
    town = slots["appeal_town"]
    return "\n".join([
        "请核对您要反映的情况：",
        f"内容：{_short(slots['appeal_description'])}",
        f"类别：{category_label}",
        f"姓名：{slots['appeal_name']}",
        f"手机：{slots['appeal_phone']['masked']}",
        f"所在镇（街道）/村：{town['said']}",
        f"上门走访：{'需要' if slots['appeal_visit'] else '不需要'}",
    ])


def _short(text: str, limit: int = 120) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "…"


CONFIRM_BUTTONS = [{"title": "确认提交", "payload": "确认"}, {"title": "改一下", "payload": "改一下"},
                   {"title": "先不提交", "payload": "/deny"}]
