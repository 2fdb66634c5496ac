"""Which way a message goes, decided in one place after the intent classifier (the Rasa pipeline
runs it through bot/router_component.py, so rules, stories and `rasa test nlu` all see the result).

- Noise (fillers, gibberish, emoji, a half sentence) goes to the fallback: 嗯嗯那个 is not a "yes".
- A message that reads as a question about a topic of the knowledge base is answered from it,
  whatever the classifier put first, unless a booking, appeal or hand-over is clearly meant:
  the classifier is confident *and* the message carries that transaction's own words.
"""
from __future__ import annotations

import re

from booking import reference
from knowledge.aspects import asked_aspect
from knowledge.context import ASKS_WHO_OR_HOW_MUCH, KIN, names_a_topic, names_nothing

POLICY, MORE, FALLBACK, OUT_OF_SCOPE, INFORM = "ask_policy", "ask_more", "nlu_fallback", "out_of_scope", "inform"

# A transactional intent is kept only with its own words in the message: 查下优待金发了没 is
# not a booking look-up, 我要预约评残 is a booking.
# Words of something not done for the veteran: a question with them is also offered as an appeal
# (bot/actions/policy.py), and a classifier sure of file_appeal is followed.
GRIEVANCE = re.compile("没发|没到账|没拿到|拿不到|没给|(?<!给)不给|拖着|停发|少发|克扣|被扣|(?<!管)不管|推来推去|没人理|没批|"
                       "没消息|没下文|没动静|发了没|到账了没|到账没|批了没|批下来没")
# A transactional intent is kept only with its own words in the message: 查下优待金发了没 is
# not a booking look-up, 我要预约评残 is a booking.
MEANT = {
    "book_service": "预约|约|代办|代跑|上门|帮我办|登记|排队",
    "check_booking": "预约|约|代办|预约号",
    "cancel_booking": "预约|约|取消|不办|不约|算了|不问|不要了|不用了",
    "reschedule_booking": "预约|约|改|换|推|提前|延后|挪",
    "file_appeal": "投诉|反映|举报|诉求|意见|不满|解决|讨个说法|信访|求助|帮帮|没钱|找谁|还没|断了|不知道为什么|没办成|"
                   "没办法|救助|困难|"
                   + GRIEVANCE.pattern,
    "check_appeal": "诉求|反映|投诉|编号|进展|处理|信访|回复|回应|结果|怎么样了|办到哪|批了没|消息|批下来|审批|走访|在办|"
                    "办得怎么样|拖",
    "add_to_appeal": "诉求|反映|投诉|补充|补几句|前面说的",
    "rate_appeal": "满意|回访",
    "request_human": "人工|工作人员|真人|客服|打电话|电话|找个人|找人|有人|跟人|让人",
    "bot_challenge": "真人|机器|程序|工作人员|客服|你是谁|你是",
    "greet": "^(你好|您好|在吗|在不在|哈喽|喂)|^是.{0,12}吗$",
}
CONFIDENT = 0.7
SMALL_TALK = {"greet", "goodbye", "thanks", "help", "bot_challenge", "affirm", "deny", MORE}
QUESTION = re.compile("[吗么呢嘛？?]|什么|啥|怎|咋|多少|几|哪|谁|是否|能不能|可不可以|有没有|是不是|要不要|会不会|"
                      "了没|没有$|行不行|好不好|对不对|如何|多久|多长|(.)不\\1")  # 给不给 / 算不算

# Noise: fillers and particles with nothing else, a stutter, or a hesitating half sentence.
_FILLERS = re.compile("我想问一下|我想问问|我想问|想问一下|问一下|请问|我想|我要|就是说|就是|然后|那个|这个|那啥|什么|啥|"
                      "来着|叽里咕噜|叽哩咕噜|巴拉巴拉|阿巴|嗯|呃|额|啊|哦|噢|喔|唔|哎|诶|欸|喂|呀|吧|哈|嘛|呢|么|吗|那|这|的|了|巴")
# Made of fillers, yet meant: a plain answer to a yes/no question, asking for more, the start of a
# question (the classifier answers these with the menu or the offer taken up).
ACKNOWLEDGEMENTS = {"嗯", "嗯嗯", "嗯呢", "哦", "哦哦", "噢", "喔", "好", "是", "对", "就是", "就是的", "就是这个", "这个",
                    "然后呢", "喂", "喂喂", "喂喂喂", "嗯嗯嗯", "我想问一下", "我想问问", "我想问", "请问", "问一下", "想问一下"}
# A half sentence trails off: 上次那个 / 我是想说那个 / 嗯那个什么来着 (not 那个号我不要了).
_TRAILS_OFF = re.compile("(那个|那啥|来着)[啊呀呢吗吧的了嘛]*$")
_ASKS = re.compile(ASKS_WHO_OR_HOW_MUCH.pattern + "|怎|咋")  # 我约的是几号来着 asks something
_STUTTER_OK = set("谢好对是嗯行拜不")  # 谢谢谢谢 / 对对对对 / 拜拜拜拜 mean something; 我我我我 does not
_WECHAT_EMOJI = re.compile(r"\[[\u4e00-\u9fff]{1,4}\]")  # WeChat sends its faces as [呲牙]
_HAN = re.compile(r"[\u4e00-\u9fff]")
_NUMBER = re.compile(r"[0-9]{7,}")  # a phone or an ID number
_WORD_CHARS = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")
# Latin words a veteran may really send (the rest of a Latin-only message is keyboard mash).
LATIN_WORDS = {"ok", "okay", "hi", "hello", "hey", "yes", "no", "bye", "thanks", "thank", "you", "thx", "3q", "sos",
               "help"}
# An emoji that answers a yes/no question as plainly as 好的.
MEANINGFUL_EMOJI = set("👍👌🙏✅")


def is_noise(text: str) -> bool:
    """Fillers, gibberish, emoji, keyboard mash, a half sentence: nothing to act on."""
    text = text.strip()
    if not text or text.startswith("/"):  # empty is answered by the channel; /intent is a button
        return False
    if any(ch in MEANINGFUL_EMOJI for ch in text):
        return False
    word = "".join(_WORD_CHARS.findall(_WECHAT_EMOJI.sub("", text)))
    if not word:
        return True  # only emoji, punctuation or symbols
    if not _HAN.search(word):
        return not all(_latin_meant(w) for w in re.findall(r"[A-Za-z0-9]+", text))
    if word in ACKNOWLEDGEMENTS:
        return False
    rest = _FILLERS.sub("", word)
    if not rest:
        return True  # 嗯嗯那个 / 呃呃呃呃 / 的了吧吗呢
    if len(word) >= 4 and len(set(word)) == 1 and word[0] not in _STUTTER_OK:
        return True  # 我我我我我
    return (bool(_TRAILS_OFF.search(word)) and not _ASKS.search(word) and not asked_aspect(text)
            and not names_a_topic(text))


def _latin_meant(word: str) -> bool:
    """1 / 2 for numbered options, a phone or ID number, a booking or appeal reference, ok / bye."""
    return (word.isdigit() or _looks_like_reference(word) or bool(re.fullmatch(r"[0-9]{17}[0-9Xx]", word))
            or word.lower() in LATIN_WORDS)


def _looks_like_reference(word: str) -> bool:
    """A reference, mistyped or not: the look-up form says whether it is right."""
    ref = reference.normalize(word)
    return len(ref) == reference.LENGTH and all(c in reference.ALPHABET for c in ref) and any(c.isdigit() for c in ref)


def reads_as_policy_question(text: str) -> bool:
    """评残在哪办 / 退伍费多少钱啊 / 要钱吗 (a follow-up asking only an aspect) / 那我爸呢."""
    if _NUMBER.search(text) and not QUESTION.search(text):
        return False  # 证件号330482…: an answer to a form's question
    if names_a_topic(text) and (QUESTION.search(text) or asked_aspect(text)):
        return True
    return names_nothing(text) and (bool(asked_aspect(text)) or (bool(KIN.search(text)) and "呢" in text))


def asks_something(text: str) -> bool:
    """一年给多少 / 谁发 / 去哪里交: a question, though it names no topic (a follow-up, most often)."""
    return bool(QUESTION.search(text) or asked_aspect(text)) and not (_NUMBER.search(text) and not QUESTION.search(text))


def route(text: str, intent: str | None, confidence: float) -> str | None:
    """The intent to act on (None: the classifier's own)."""
    if is_noise(text):
        return FALLBACK
    if intent == POLICY:
        return None
    meant = MEANT.get(intent or "")
    if meant and confidence >= CONFIDENT and re.search(meant, text):
        return None
    # Small talk and yes/no answers give way only to a question on a topic of ours (好吗 stays a
    # yes); any other intent the classifier guessed gives way to a question of any kind: the
    # policy action reads it with the topic just answered, or refuses and records the gap.
    if reads_as_policy_question(text):
        return POLICY
    if intent in SMALL_TALK or not asks_something(text) or (intent == INFORM and not QUESTION.search(text)):
        return None  # 地址是独山港镇 names the place; it does not ask for one
    # 平湖明天会不会下雨 is rightly out of scope; a short 去哪里交 is a follow-up it was taken for.
    return POLICY if intent != OUT_OF_SCOPE or names_nothing(text) else None
