"""Which way a message goes, decided in one place after the intent classifier (the Rasa pipeline
runs it through bot/router_component.py, so rules, stories and `rasa test nlu` all see the result).

- Noise (fillers, gibberish, emoji, a half sentence) goes to the fallback: 嗯嗯那个 is not a "yes".
- A message that reads as a question about a topic of the knowledge base is answered from it,
  whatever the classifier put first, unless a booking, appeal or hand-over is clearly meant:
  the classifier is confident *and* the message carries that transaction's own words.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

from booking import reference
from knowledge.aspects import asked_aspect
from knowledge.context import KIN, is_follow_up

POLICY, MORE, FALLBACK = "ask_policy", "ask_more", "nlu_fallback"
DICTIONARY = Path(__file__).parent / "dictionary" / "userdict.txt"
COLLOQUIAL = Path(__file__).parents[1] / "knowledge" / "colloquial.yml"  # 当兵回来 → 退役 …
# Dictionary tags that are not policy topics: place names (乍浦镇 answers "where do you live").
NOT_TOPICS = {"ns"}

# A transactional intent is kept only with its own words in the message: 查下优待金发了没 is
# not a booking look-up, 我要预约评残 is a booking.
MEANT = {
    "book_service": "预约|约|代办|登记|排队",
    "check_booking": "预约|约|代办|预约号",
    "cancel_booking": "预约|约|取消|不办|不约|算了|不问|不要了|不用了",
    "reschedule_booking": "预约|约|改|换",
    "file_appeal": "投诉|反映|举报|诉求|意见|不满|解决|没人管|没人理|推来推去|讨个说法|信访|求助|帮帮",
    "check_appeal": "诉求|反映|投诉|编号|进展|处理",
    "add_to_appeal": "诉求|反映|投诉|补充",
    "rate_appeal": "满意|回访",
    "request_human": "人工|工作人员|真人|客服|打电话|电话",
}
CONFIDENT = 0.7
QUESTION = re.compile("[吗么呢嘛？?]|什么|啥|怎|咋|多少|几|哪|谁|是否|能不能|可不可以|有没有|是不是|要不要|会不会|"
                      "了没|没有$|行不行|好不好|对不对|如何|多久|多长")

# Noise: what is left after taking out these is nothing, and the message hesitates.
_FILLERS = re.compile("我想问一下|我想问问|我想问|想问一下|问一下|请问|我想|我要|就是说|就是|然后|那个|这个|什么|啥|"
                      "嗯|呃|额|啊|哦|噢|喔|唔|哎|诶|欸|呀|吧|哈|嘛|呢|么|吗|那|这|的|了|阿巴|巴")
_HESITATION = re.compile("那个|这个|呃|额|就是|什么|然后|阿巴|唔")
_SAME_CHAR_4 = re.compile(r"(.)\1{3,}")
_REPEATED_UNIT = re.compile(r"^(.{1,3}?)\1+$")
MEANINGFUL_REPEATS = {"谢", "好", "对", "是", "嗯", "行", "哦", "喂", "不", "没", "在", "有", "要", "您好", "你好", "谢谢"}
_HAN = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
_DIGITS = re.compile(r"[0-9]")
_WORD_CHARS = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")
# Latin words a veteran may really send (the rest of a Latin-only message is keyboard mash).
LATIN_WORDS = {"ok", "okay", "hi", "hello", "yes", "no", "bye", "thanks", "thx", "sos", "help"}
# An emoji that answers a yes/no question as plainly as 好的.
MEANINGFUL_EMOJI = set("👍👌🙏✅")


@lru_cache(maxsize=1)
def topic_words() -> tuple[str, ...]:
    """The policy terms of the project dictionary (the words jieba must keep whole) and the
    colloquial ways of saying them that search already knows, longest first."""
    words = set(yaml.safe_load(COLLOQUIAL.read_text(encoding="utf-8")) or {})
    for line in DICTIONARY.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if parts and not line.startswith("#") and (len(parts) < 3 or parts[2] not in NOT_TOPICS):
            words.add(parts[0])
    return tuple(sorted(words, key=len, reverse=True))


def names_a_topic(text: str) -> bool:
    return any(word in text for word in topic_words())


def is_noise(text: str) -> bool:
    """Fillers, gibberish, emoji, keyboard mash, a half sentence: nothing to act on."""
    text = text.strip()
    if not text or text.startswith("/"):  # empty is answered by the channel; /intent is a button
        return False
    if any(ch in MEANINGFUL_EMOJI for ch in text):
        return False
    word = "".join(_WORD_CHARS.findall(text))
    if not word:
        return True  # only emoji, punctuation or symbols
    if not _HAN.search(word):
        return _latin_noise(word)
    if _LATIN.search(word) and _DIGITS.search(word) and len(_HAN.findall(word)) <= 1:
        return True  # 123abc啊
    han = "".join(_HAN.findall(word))
    unit = _REPEATED_UNIT.match(han)
    if unit and unit.group(1) in MEANINGFUL_REPEATS:
        return False  # 对对对 / 谢谢谢谢
    if unit and len(han) >= 4:
        return True  # 阿巴阿巴 / 呃呃呃呃
    if _SAME_CHAR_4.search(han) and len(set(han)) <= 2:
        return True  # 呃呃呃呃啊
    return not _FILLERS.sub("", han) and bool(_HESITATION.search(han)) and not _DIGITS.search(word)


def _latin_noise(word: str) -> bool:
    if _DIGITS.fullmatch(word[:1]) and word.isdigit():
        return False  # 1 / 2 for numbered options, a phone, an ID number
    if reference.is_valid(word) or re.fullmatch(r"[0-9]{17}[0-9Xx]", word):
        return False  # a booking or appeal reference, an ID number ending in X
    return word.lower() not in LATIN_WORDS


def reads_as_policy_question(text: str) -> bool:
    """评残在哪办 / 退伍费多少钱啊 / 要钱吗 (a follow-up asking only an aspect) / 那我爸呢."""
    if names_a_topic(text) and (QUESTION.search(text) or asked_aspect(text)):
        return True
    return is_follow_up(text) and (bool(asked_aspect(text)) or (bool(KIN.search(text)) and "呢" in text))


def route(text: str, intent: str | None, confidence: float) -> str | None:
    """The intent to act on (None: the classifier's own)."""
    if is_noise(text):
        return FALLBACK
    if intent == POLICY or not reads_as_policy_question(text):
        return None
    meant = MEANT.get(intent or "")
    if meant and confidence >= CONFIDENT and re.search(meant, text):
        return None
    return POLICY
