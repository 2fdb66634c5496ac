"""Turning one Rasa turn into WeChat text: one message, numbered options, byte-safe splitting."""
from __future__ import annotations

import json
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterable

from wechat_adapter.store import KeyValueStore

logger = logging.getLogger(__name__)

# WeChat's limit for a text message (passive reply and customer-service message), in UTF-8 bytes.
WECHAT_TEXT_LIMIT = 2048

OPTIONS_HEADER = "回复数字："

# "1 政策咨询", "1、政策咨询", "1. 政策咨询": the domain already numbers some titles.
_LEADING_NUMBER = re.compile(r"^\s*\d{1,2}(?:\s+|\s*[.、．:：)）]\s*)")
_CHINESE_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_NUMBER_REPLY = re.compile(r"^\s*(?:第)?(\d{1,2}|[一二三四五六七八九十])\s*(?:个|项|号)?\s*[。.！!]?\s*$")


@dataclass
class FormattedTurn:
    text: str
    option_payloads: list[str] = field(default_factory=list)


def clean_title(title: str) -> str:
    return _LEADING_NUMBER.sub("", str(title)).strip() or str(title).strip()


def format_turn(messages: Iterable[dict[str, Any]]) -> FormattedTurn:
    """Join every bot message of a turn into one text; buttons become numbered options.

    Only the buttons of the last message that has buttons are offered, because a veteran
    can answer only one question at a time.
    """
    lines: list[str] = []
    buttons: list[dict[str, Any]] = []
    for message in messages:
        if message.get("text"):
            lines.append(str(message["text"]).strip())
        if message.get("image"):
            lines.append(f"图片：{message['image']}")
        if message.get("attachment"):
            lines.append(str(message["attachment"]))
        custom = message.get("custom")
        if isinstance(custom, dict) and custom.get("text"):
            lines.append(str(custom["text"]).strip())
        if message.get("buttons"):
            buttons = list(message["buttons"])
    payloads: list[str] = []
    if buttons:
        options = []
        for number, button in enumerate(buttons, start=1):
            options.append(f"{number} {clean_title(button.get('title', ''))}")
            payloads.append(str(button.get("payload") or button.get("title") or ""))
        lines.append(OPTIONS_HEADER + "\n" + "\n".join(options))
    return FormattedTurn("\n".join(line for line in lines if line), payloads)


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


# Preferred places to cut, best first: a line break, the end of a sentence, a pause.
_BREAKS = ("\n", "。！？!?；;…", "，,、：: ")


def split_text(text: str, limit: int = WECHAT_TEXT_LIMIT) -> list[str]:
    """Split into parts of at most `limit` UTF-8 bytes, cutting at the best boundary available.

    Never cuts inside a character (we cut a str, not bytes) and only cuts at all when the
    text does not fit.
    """
    text = text.strip()
    parts: list[str] = []
    while text:
        if utf8_len(text) <= limit:
            parts.append(text)
            break
        # The longest prefix that fits, by characters.
        fit = 0
        used = 0
        for char in text:
            size = len(char.encode("utf-8"))
            if used + size > limit:
                break
            used += size
            fit += 1
        window = text[:fit]
        cut = 0
        for characters in _BREAKS:
            position = max(window.rfind(char) for char in characters)
            # Do not accept a boundary so early that the part would be tiny.
            if position >= fit // 3:
                cut = position + 1
                break
        if cut == 0:
            cut = fit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [part for part in parts if part]


def parse_option_number(text: str) -> int | None:
    """'1', '１', ' 2。', '三', '第2个' -> the chosen number; anything else -> None."""
    if not text:
        return None
    normalized = unicodedata.normalize("NFKC", text)
    match = _NUMBER_REPLY.match(normalized)
    if not match:
        return None
    token = match.group(1)
    return int(token) if token.isdigit() else _CHINESE_DIGITS[token]


class OptionMemory:
    """Remembers the payloads of the numbered options last shown to each openid."""

    def __init__(self, store: KeyValueStore, ttl: int = 24 * 3600) -> None:
        self.store = store
        self.ttl = ttl

    @staticmethod
    def _key(openid: str) -> str:
        return f"wechat:options:{openid}"

    async def remember(self, openid: str, payloads: list[str]) -> None:
        try:
            if payloads:
                await self.store.put(self._key(openid), json.dumps(payloads, ensure_ascii=False), self.ttl)
            else:
                # A later bare "1" must not pick an option from an older answer.
                await self.store.delete(self._key(openid))
        except Exception:
            logger.exception("Could not remember the numbered options for %s", openid)

    async def resolve(self, openid: str, text: str) -> str:
        """Map a bare number to the payload of that option; otherwise return the text."""
        number = parse_option_number(text)
        if number is None:
            return text
        try:
            raw = await self.store.get(self._key(openid))
        except Exception:
            logger.exception("Could not look up the numbered options for %s", openid)
            return text
        if not raw:
            return text
        payloads = json.loads(raw)
        if 1 <= number <= len(payloads) and payloads[number - 1]:
            return payloads[number - 1]
        return text
