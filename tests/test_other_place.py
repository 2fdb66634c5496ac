"""A question about another place's rules, through the real action and knowledge base: the bot says
which rules it holds and gives the national rule on the same thing where there is one."""
from __future__ import annotations

from tests.test_actions import gap_log, run, tracker_for, user_event  # noqa: F401 (autouse fixture)

from bot.actions.policy import ActionAnswerPolicy
from knowledge.service import get_knowledge_base


def ask(question: str) -> tuple[list[dict], list]:
    return run(ActionAnswerPolicy(), tracker_for(user_event(question, "ask_policy")))


def test_another_province_gets_what_we_hold_and_the_national_rule():
    messages, events = ask("上海的退役军人一次性补助是多少")
    assert messages[0]["text"].startswith("我这里只有国家、浙江省和平湖市的政策，上海的具体规定")
    answered = next(e["value"] for e in events if e.get("name") == "policy_answer_id" and e["value"])
    assert get_knowledge_base().hit_by_id(answered).passage.region == "全国"
    assert "依据：《" in messages[1]["text"]


def test_abroad_gets_what_we_hold_and_a_person(gap_log):  # noqa: F811 (the autouse fixture, used here)
    messages, _ = ask("美国退伍军人的养老金每个月能拿多少美元")
    assert [m["text"] for m in messages] == ["我这里只有国家、浙江省和平湖市的政策，美国的事我答不了。"]
    assert messages[0]["buttons"][0]["payload"] == "/request_human"
    assert gap_log and gap_log[0][0] == "美国退伍军人的养老金每个月能拿多少美元"


def test_a_home_question_is_answered_as_before():
    messages, _ = ask("平湖的自主就业退役士兵一次性经济补助是多少")
    assert "我这里只有" not in messages[0]["text"]


def test_a_refused_grievance_still_gets_the_way_to_file_it():
    from bot.actions.policy import NOT_FOUND

    messages, _ = ask("帮我查下优待金发了没")  # not in the rules: refused
    assert messages[0]["text"] == NOT_FOUND
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/request_human", "/file_appeal"]
    messages, _ = ask("平湖哪家银行利息最高")
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/request_human"]
