"""Follow-up questions: 评残怎么申请 → 那要带什么材料 → 去哪里办. A short message that asks only
for an aspect (or for someone else: 那我爸呢) and names no topic of its own is read with the topic
of the previous answer; a message that names its own topic is a new question and stands alone."""
from __future__ import annotations

import re
from functools import lru_cache

import yaml

from booking.pii import ID_IN_TEXT, PHONE_IN_TEXT
from knowledge.aspects import asked_aspect, strip_aspect_words
from knowledge.tokenize import COLLOQUIAL, USER_DICT

# Words that carry no topic in a follow-up: pronouns, particles, "do / go / can".
_FILLER = re.compile("那么|那个|这个|那|这|还有|另外|再问一下|请问|一下|要是|如果|需要|需不需要|能不能|可不可以|"
                     "还要|还|要|能|可以|去|在|办理|办好|办|弄|呢|吗|啊|呀|吧|的|了|呃|嗯|就是|我们|我|他们|他|她|它|们|是|"
                     "得|个|些|给|有没有|有|没有|多|久|什么|啥|哪些|怎么")
KIN = re.compile("爸|妈|父亲|母亲|老伴|爱人|老婆|老公|配偶|儿子|女儿|孩子|家属|子女|父母")
_HAN = re.compile(r"[\u4e00-\u9fff]")
ASKS_WHO_OR_HOW_MUCH = re.compile("谁|多少|几|哪")
MAX_FOLLOW_UP_CHARS = 14  # a follow-up is short; a long message is a question of its own
# A personal number and the words that give it: "我身份证号330482…" says who asks, not what
# (left in, 身份证号 draws the search to the 优待证 entries that mention it).
_PERSONAL_NUMBER = re.compile("(我的?)?(身份证|证件|手机|电话)?(号码|号)?[是为:：]?\\s*(?:" + ID_IN_TEXT.pattern + "|"
                              + PHONE_IN_TEXT.pattern + ")")


def own_topic(question: str) -> str:
    """What the question is about, without aspect words and fillers (评残怎么申请 → 评残)."""
    return "".join(_HAN.findall(_FILLER.sub("", strip_aspect_words(question))))


# Dictionary tags that are not policy topics: place names (乍浦镇 answers "where do you live").
NOT_TOPICS = {"ns"}


@lru_cache(maxsize=1)
def topic_words() -> tuple[str, ...]:
    """The policy terms of the project dictionary (the words jieba must keep whole) and the
    colloquial ways of saying them that search already knows, longest first."""
    words = set(yaml.safe_load(COLLOQUIAL.read_text(encoding="utf-8")) or {})
    for line in USER_DICT.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if parts and not line.startswith("#") and (len(parts) < 3 or parts[2] not in NOT_TOPICS):
            words.add(parts[0])
    return tuple(sorted(words, key=len, reverse=True))


def names_a_topic(text: str) -> bool:
    return any(word in text for word in topic_words())


def _short(question: str) -> bool:
    return len(_HAN.findall(question)) <= MAX_FOLLOW_UP_CHARS


def names_nothing(question: str) -> bool:
    """Short, and nothing but what it asks (要钱吗 / 去哪里办) or whom (那我爸呢)."""
    topic = own_topic(question)
    return _short(question) and (len(topic) <= 1 or bool(KIN.fullmatch(topic)))


def is_follow_up(question: str) -> bool:
    """Short, and no topic of the knowledge base named (一个月多少 / 谁发的 / 小孩呢): read with the
    previous answer's topic. 优待证去哪办 names its own and stands alone."""
    if names_nothing(question):
        return True
    # It must ask what an answer on the topic would tell (谁 / 多少 / 什么时候 …): 平湖明天会不会下雨
    # names no topic of ours either, and is not about the last answer.
    return (_short(question) and not names_a_topic(own_topic(question))
            and bool(asked_aspect(question) or ASKS_WHO_OR_HOW_MUCH.search(question)))


def with_topic(question: str, previous: str | None) -> str:
    """The question to search: a follow-up gets the previous question's topic in front; one that
    only names someone else (那我爸呢) asks the previous question again, about them."""
    if not previous or not is_follow_up(question):
        return question
    if KIN.search(question) and not asked_aspect(question):
        return f"{previous} {question}"
    topic = own_topic(previous) or previous
    return f"{topic} {question}"


def without_personal_numbers(question: str) -> str:
    return _PERSONAL_NUMBER.sub(" ", question).strip(" ，,。.；;：:")
