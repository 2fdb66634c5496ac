"""One rule for what a veteran's message may hand to Rasa, applied by every channel (REST,
socket.io, WeChat) before Rasa parses it.

NLU (jieba, n-grams, DIET) and the knowledge search take longer the longer the text: a
100,000-character paste held the single Rasa process for 39 s while every other veteran waited.
So a message longer than VETBOT_MAX_MESSAGE_CHARS is cut at the last sentence end within the
limit, and the veteran is told that only the first part was read. An empty message gets a prompt
and never reaches Rasa (it would be parsed as nothing and answered with a guess).
"""
from __future__ import annotations

import logging
import unicodedata
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import UserMessage

from vetbot.settings import SettingsError, settings

logger = logging.getLogger(__name__)

NOTICE = "您发的内容比较长，我先看了前面一部分。要说的事情多的话，可以分几次发，或者转人工。"
EMPTY_TEXT = "请您打字告诉我想办的事，比如“优待证怎么申请”。"
MIN_LIMIT = 100  # below this ordinary questions and answers to the forms would be cut
SENTENCE_ENDS = "。！？!?；\n"
CLAUSE_ENDS = "，,、;；：: "  # voice input often runs on with commas only
ZWJ = "\u200d"


def max_chars() -> int:
    limit = settings().max_message_chars
    if limit < MIN_LIMIT:
        raise SettingsError(f"VETBOT_MAX_MESSAGE_CHARS={limit}: should be at least {MIN_LIMIT}")
    return limit


def cut(text: str, limit: int) -> str:
    """The text itself when it is within `limit` characters, else its beginning: up to the last
    sentence end within the limit, else the last clause end, else `limit` characters without
    splitting a character in two (an emoji and its modifiers, a flag, a surrogate pair).
    A boundary that would keep less than half the limit is passed over: one early "好！" must not
    throw away a whole unpunctuated description."""
    if len(text) <= limit:
        return text
    window = text[:limit]
    for ends in (SENTENCE_ENDS, CLAUSE_ENDS):
        end = max(window.rfind(mark) for mark in ends) + 1
        if end > limit // 2:
            return window[:end].rstrip()
    return text[:_whole_characters(text, limit)].rstrip()


def _whole_characters(text: str, end: int) -> int:
    """`end`, moved back so text[:end] does not stop inside what the reader sees as one character."""
    while end > 0 and (_continues(text[end]) or text[end - 1] == ZWJ):
        end -= 1
    indicators = 0  # regional indicators pair into flags: 🇨🇳 is two code points
    while indicators < end and _is_indicator(text[end - 1 - indicators]):
        indicators += 1
    return end - 1 if indicators % 2 and _is_indicator(text[end]) else end


def _continues(char: str) -> bool:
    """Whether `char` belongs to the character before it."""
    return (unicodedata.category(char) in ("Mn", "Mc", "Me")  # accents, variation selectors, keycap
            or char == ZWJ
            or "\U0001f3fb" <= char <= "\U0001f3ff"  # skin tones
            or "\U000e0020" <= char <= "\U000e007f"  # tag letters of subdivision flags
            or "\udc00" <= char <= "\udfff")  # the low half of a surrogate pair left unpaired by a decoder


def _is_indicator(char: str) -> bool:
    return "\U0001f1e6" <= char <= "\U0001f1ff"


def capped(on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Callable[[UserMessage], Awaitable[Any]]:
    """Wrap a channel's hand-over to Rasa. The notice follows the bot's answer; when a collecting
    channel got no answer at all it sends nothing, so the channel's own apology (no silence) still
    applies. The limit is read once, when the channel is built: a bad value stops the start."""
    limit = max_chars()

    async def handle(message: UserMessage) -> Any:
        text = message.text or ""
        if not text.strip():
            await message.output_channel.send_text_message(message.sender_id, EMPTY_TEXT)
            return None
        short = cut(text, limit)
        if short == text:
            return await on_new_message(message)
        logger.info("message of %d characters from %s cut to %d", len(text), message.sender_id, len(short))
        message.text = short
        result = await on_new_message(message)
        answered = getattr(message.output_channel, "messages", None)
        if answered is None or answered:
            await message.output_channel.send_text_message(message.sender_id, NOTICE)
        return result

    return handle
