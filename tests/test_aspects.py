"""The aspect asked, the sentences that answer it, and follow-ups read with the previous topic."""
from __future__ import annotations

import pytest

from knowledge.answer import NOT_STATED, answer_text
from knowledge.aspects import asked_aspect, pick, segments
from knowledge.context import is_follow_up, own_topic, with_topic
from knowledge.passage import Passage


@pytest.mark.parametrize("question, aspect", [
    ("当兵回来能拿多少钱", "amount"), ("帮扶基金一年给多少", "amount"),
    ("评残要带什么材料", "documents"), ("那要带啥", "documents"),
    ("去哪里办", "place"), ("优待证在哪领", "place"),
    ("多久能办好", "time_limit"), ("退伍报到有没有时间限制", "time_limit"),
    ("办优待证收不收费", "fee"), ("要钱吗", "fee"),
    ("评残怎么申请", "procedure"), ("烈士父母能不能申请优待证", "eligibility"),
    ("抚恤金发给谁", "recipient"), ("光荣牌", None),
])
def test_the_aspect_asked(question, aspect):
    assert asked_aspect(question) == aspect


FUND = ("帮扶基金是2019年7月成立的，由市财政和社会各界共同出资。"
        "对符合条件的困难对象，每户每年帮扶2000元到5000元不等；特殊困难对象最多不超过10000元。"
        "申请人向村（社区）服务站提出，镇（街道）服务站审核。")


def test_the_sentences_that_answer_the_aspect_are_picked_not_the_first_one():
    assert pick(FUND, "amount", "帮扶基金能给多少钱", 150) == "对符合条件的困难对象，每户每年帮扶2000元到5000元不等；特殊困难对象最多不超过10000元。"
    assert pick(FUND, "place", "帮扶基金去哪申请", 150) == "申请人向村（社区）服务站提出，镇（街道）服务站审核。"
    assert pick(FUND, "fee", "收费吗", 150) is None


def test_a_checklist_is_kept_whole_with_its_lead_in():
    text = "递交时要带：\n1. 身份证\n2. 退役证\n条例里点名的证据是原始病历。"
    assert segments(text) == ["递交时要带：\n1. 身份证\n2. 退役证", "条例里点名的证据是原始病历。"]


def passage(text: str) -> Passage:
    return Passage(id="p", doc_id="p", title="t", source="s", article="", date="2024-01-01", in_force=True,
                   region="全国", category="退役金", text=text)


def test_an_amount_the_rule_does_not_state_is_said_so():
    reply = answer_text(passage("一次性退役金按服役年限计算，由中央财政专项安排。"), "能拿多少钱")
    assert reply.endswith(NOT_STATED["amount"])
    assert answer_text(passage("一次性退役金按服役年限计算。"), "要收费吗").endswith(NOT_STATED["fee"])
    assert answer_text(passage(FUND), "评残").startswith("帮扶基金是2019年7月成立的")  # no aspect: the start


@pytest.mark.parametrize("question", ["那要带什么材料", "去哪里办", "多久能办好", "要钱吗", "那我爸呢", "在哪办？"])
def test_short_aspect_only_messages_are_follow_ups(question):
    assert is_follow_up(question)


@pytest.mark.parametrize("question", ["优待证怎么办", "当兵回来能拿多少钱", "光荣牌坏了能换吗", "带病回乡认定要带什么材料"])
def test_a_question_with_its_own_topic_is_not(question):
    assert not is_follow_up(question)


def test_a_follow_up_is_searched_with_the_previous_topic_and_a_new_question_alone():
    assert own_topic("评残怎么申请") == "评残"
    assert with_topic("那要带什么材料", "评残怎么申请") == "评残 那要带什么材料"
    assert with_topic("优待证去哪办", "评残怎么申请") == "优待证去哪办"
    assert with_topic("去哪里办", None) == "去哪里办"
    assert with_topic("那我爸呢", "评残怎么申请") == "评残怎么申请 那我爸呢"  # the same question, about him
    assert with_topic("我爸要带什么", "评残怎么申请") == "评残 我爸要带什么"


def test_an_entry_title_asking_two_aspects_matches_either_and_a_bare_apply_names_the_matter():
    from knowledge.search import _title_aspects

    assert _title_aspects("退役军人优待证怎么申领，要准备什么") == {"procedure", "documents"}
    assert _title_aspects("申请评残要准备哪些材料") == {"documents"}
    assert "procedure" in _title_aspects("评残怎么申请")
