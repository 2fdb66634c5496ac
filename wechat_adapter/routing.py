"""What to do with one inbound WeChat message or event: ask Rasa, answer directly, or stay quiet."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from vetbot.message_cap import EMPTY_TEXT  # the same prompt as every channel's

logger = logging.getLogger(__name__)

# Short, plain Chinese for older users.
VOICE_NOT_RECOGNISED = "抱歉，这段语音我没有听清。请您打字告诉我想办的事，比如“优待证怎么申请”。"
UNSUPPORTED_MESSAGE = "我现在只能看懂文字消息。请您打字告诉我想办的事，比如“优待证怎么申请”，或者回复“转人工”。"

GREET = "/greet"
UNKNOWN_CLICK = "/help"

RASA, REPLY, NOTHING = "rasa", "reply", "nothing"


@dataclass
class Route:
    action: str  # RASA, REPLY or NOTHING
    text: str = ""
    # True when the text was typed/spoken by the veteran (so "1" may mean a numbered option).
    from_user: bool = False


def route(fields: dict[str, str], click_intents: dict[str, str]) -> Route:
    msg_type = (fields.get("MsgType") or "").lower()
    if msg_type == "text":
        content = (fields.get("Content") or "").strip()
        return Route(RASA, content, from_user=True) if content else Route(REPLY, EMPTY_TEXT)
    if msg_type == "voice":
        recognition = (fields.get("Recognition") or "").strip()
        return Route(RASA, recognition, from_user=True) if recognition else Route(REPLY, VOICE_NOT_RECOGNISED)
    if msg_type == "event":
        return _route_event(fields, click_intents)
    # image, video, shortvideo, location, link, file, anything new
    return Route(REPLY, UNSUPPORTED_MESSAGE)


def _route_event(fields: dict[str, str], click_intents: dict[str, str]) -> Route:
    event = (fields.get("Event") or "").lower()
    openid = fields.get("FromUserName", "")
    if event in ("subscribe", "scan"):
        # Subscribing through a QR code also arrives as subscribe (EventKey qrscene_...).
        return Route(RASA, GREET)
    if event == "unsubscribe":
        logger.info("WeChat user %s unsubscribed", openid)
        return Route(NOTHING)
    if event == "click":
        key = fields.get("EventKey", "")
        intent = click_intents.get(key)
        if not intent:
            logger.warning("Menu click with unknown key %r", key)
        return Route(RASA, intent or UNKNOWN_CLICK)
    # VIEW (a link opened), LOCATION reports, TEMPLATESENDJOBFINISH...: nothing to say.
    return Route(NOTHING)
