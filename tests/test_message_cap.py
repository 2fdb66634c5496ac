"""The message cap on its own: where a long message is cut, the notice, the empty message, and the
REST channel's hand-over to Rasa (a Sanic app with the real RestInput and a stand-in for Rasa)."""
from __future__ import annotations

import asyncio

import pytest
import requests
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from tests.wechat.harness import RunningServer  # serves any input channel, not only WeChat
from vetbot.message_cap import EMPTY_TEXT, NOTICE, capped, cut, max_chars
from vetbot.rest_channel import RestInput, apology
from vetbot.settings import SettingsError

LIMIT = 100


def test_a_message_within_the_limit_is_kept_whole():
    assert cut("优待证怎么申请？", LIMIT) == "优待证怎么申请？"
    exactly = "字" * (LIMIT - 1) + "。"
    assert cut(exactly, LIMIT) == exactly
    assert cut("字" * LIMIT, LIMIT) == "字" * LIMIT


def test_cut_at_the_last_sentence_end_within_the_limit():
    first = "我是乍浦镇的退役军人。" + "去年评残的事一直没有消息" * 5 + "！"
    text = first + "后来我又去问了好几次，人家都说让我回家等通知，可是等到现在也没有人来。" * 3
    assert len(first) < LIMIT < len(text)
    assert cut(text, LIMIT) == first
    # the last end counts, not the first; a line break is an end too (kept out of the result)
    lines = "第一件事。\n" + "甲" * 60 + "\n" + "乙" * 60
    assert cut(lines, LIMIT) == "第一件事。\n" + "甲" * 60


def test_a_sentence_end_just_past_the_limit_does_not_count():
    text = "甲" * LIMIT + "。" + "乙" * 50
    assert cut(text, LIMIT) == "甲" * LIMIT


def test_without_sentence_ends_a_clause_end_then_the_limit():
    voice = "我爸爸以前当过兵，" * 20  # voice input: commas only
    assert cut(voice, LIMIT) == voice[:99]  # 11 clauses of 9 characters
    assert cut("字" * 300, LIMIT) == "字" * LIMIT


def test_an_early_sentence_end_does_not_throw_away_the_rest():
    text = "您好！" + "字" * 300
    assert cut(text, LIMIT) == text[:LIMIT]
    half = "字" * 49 + "。" + "字" * 300  # the end at 50 keeps exactly half: too little
    assert cut(half, LIMIT) == half[:LIMIT]
    more = "字" * 50 + "。" + "字" * 300
    assert cut(more, LIMIT) == "字" * 50 + "。"


@pytest.mark.parametrize("emoji", [
    "👍🏽",  # skin tone
    "👨\u200d👩\u200d👧",  # a family joined by ZWJs
    "🇨🇳",  # a flag: two regional indicators
    "❤️",  # a heart and its variation selector
    "\ud83d\ude00",  # a surrogate pair left unpaired by a decoder
    "é",  # e and a combining accent
])
@pytest.mark.parametrize("offset", [1, 2, 3])
def test_the_hard_cut_never_splits_what_is_seen_as_one_character(emoji, offset):
    start = LIMIT - offset  # the emoji straddles the limit, or fits before it
    text = "字" * start + emoji + "字" * 200
    fits = start + len(emoji) <= LIMIT
    assert cut(text, LIMIT) == (text[:LIMIT] if fits else "字" * start)


def test_flags_in_a_row_pair_up():
    text = "字" * (LIMIT - 5) + "🇨🇳🇨🇳🇨🇳" + "字" * 200
    assert cut(text, LIMIT) == "字" * (LIMIT - 5) + "🇨🇳🇨🇳"


def test_the_notice_is_short_plain_and_offers_a_person():
    assert len(NOTICE) <= 60 and "前面一部分" in NOTICE and "分几次" in NOTICE and "人工" in NOTICE


def test_the_limit_comes_from_the_settings(monkeypatch):
    monkeypatch.delenv("VETBOT_MAX_MESSAGE_CHARS", raising=False)
    assert max_chars() == 500
    monkeypatch.setenv("VETBOT_MAX_MESSAGE_CHARS", "800")
    assert max_chars() == 800
    for bad in ("99", "lots"):
        monkeypatch.setenv("VETBOT_MAX_MESSAGE_CHARS", bad)
        with pytest.raises(SettingsError, match="VETBOT_MAX_MESSAGE_CHARS"):
            max_chars()


class Recorder:
    """Stands in for Rasa: records the text it was handed and answers, or stays silent."""

    def __init__(self, answer: bool = True) -> None:
        self.answer, self.texts = answer, []

    async def __call__(self, message: UserMessage) -> None:
        self.texts.append(message.text)
        if self.answer:
            await message.output_channel.send_text_message(message.sender_id, "好的")


def run_capped(rasa: Recorder, text: str | None) -> list[str]:
    collector = CollectingOutputChannel()
    asyncio.run(capped(rasa)(UserMessage(text, collector, "v1")))
    return [m["text"] for m in collector.messages]


@pytest.fixture
def limit(monkeypatch):
    monkeypatch.setenv("VETBOT_MAX_MESSAGE_CHARS", str(LIMIT))


def test_a_long_message_reaches_rasa_cut_and_the_notice_follows_the_answer(limit):
    rasa = Recorder()
    text = "我要反映优待金没有发的事。" * 30
    assert run_capped(rasa, text) == ["好的", NOTICE]
    assert rasa.texts == [cut(text, LIMIT)]
    assert run_capped(rasa, "优待证怎么申请") == ["好的"]


def test_no_notice_instead_of_an_answer(limit):
    """When Rasa said nothing the channel's own apology applies (it looks for an empty turn)."""
    assert run_capped(Recorder(answer=False), "说" * 300) == []


@pytest.mark.parametrize("empty", ["", "   ", "\n\t", None])
def test_an_empty_message_never_reaches_rasa(limit, empty):
    rasa = Recorder()
    assert run_capped(rasa, empty) == [EMPTY_TEXT]
    assert rasa.texts == []


@pytest.fixture
def rest(limit):
    """The real REST channel served over HTTP; yields (post(message) -> reply texts, recorder)."""
    rasa = Recorder()
    server = RunningServer(RestInput(), rasa).start()

    def post(message) -> list[str]:
        response = requests.post(f"{server.base_url}/webhooks/rest/webhook",
                                 json={"sender": "v1", "message": message}, timeout=10)
        return [reply["text"] for reply in response.json()]

    yield post, rasa
    server.stop()


def test_rest_channel_caps_and_answers_empty_messages(rest):
    post, rasa = rest
    long = "我的情况是这样的，" * 10 + "请帮帮忙。" + "字" * 2000
    assert post(long) == ["好的", NOTICE]
    assert post("   ") == [EMPTY_TEXT]
    assert rasa.texts == ["我的情况是这样的，" * 10 + "请帮帮忙。"]


def test_rest_channel_still_apologises_for_a_silent_turn_of_a_long_message(rest):
    post, rasa = rest
    rasa.answer = False
    assert post("字" * 300) == [apology(), NOTICE]
