"""Policy answers in a conversation, through the real action and knowledge base: the aspect asked
is answered, a follow-up is read with the previous topic, a new question stands alone."""
from __future__ import annotations

from tests.test_actions import gap_log, run, tracker_for, user_event  # noqa: F401 (autouse fixture)

from bot.actions.policy import ActionAnswerPolicy
from booking.catalogue import load_catalogue
from knowledge.answer import NOT_STATED


def ask(question: str, previous: str | None = None) -> tuple[dict, str | None]:
    messages, events = run(ActionAnswerPolicy(),
                           tracker_for(user_event(question, "ask_policy"), slots={"last_policy_query": previous}))
    topic = next((e["value"] for e in events if e.get("name") == "last_policy_query"), previous)
    return messages[0], topic


def test_pingcan_procedure_then_documents_then_place_then_time():
    reply, topic = ask("评残怎么申请")  # the procedure entry, not the one on the documents
    assert reply["text"].startswith("【在部队受伤生病致残怎么评残】") and "依据：《军人抚恤优待条例》" in reply["text"]
    reply, topic = ask("那要带什么材料", topic)
    assert "原始病历" in reply["text"] and "本人身份证" in reply["text"]
    reply, topic = ask("去哪里办", topic)
    assert reply["text"].startswith("评残可以到平湖市退役军人服务中心") and "代办" in reply["text"]
    assert [b["payload"] for b in reply["buttons"]] == ["/book_service", "/request_human"]
    reply, _ = ask("多久能办好", topic)
    duration = load_catalogue().service("pingcan-xinban").duration
    assert reply["text"].startswith(f"评残：{duration}")


def test_a_new_question_after_an_answer_is_not_dragged_into_the_old_topic():
    _, topic = ask("评残怎么申请")
    reply, topic = ask("光荣牌坏了能换吗", topic)
    assert "光荣牌" in reply["text"] and "评残" not in reply["text"]
    assert topic == "光荣牌坏了能换吗"


def test_a_how_much_question_gets_the_amounts_not_the_founding():
    reply, _ = ask("帮扶基金一户一年能给多少钱")
    assert "2000元到5000元" in reply["text"] and "10000元" in reply["text"]


def test_a_fee_follow_up_gets_the_sentence_on_money():
    _, topic = ask("优待证丢了怎么补办")
    reply, _ = ask("那要钱吗", topic)
    assert "交钱" in reply["text"] or "收费" in reply["text"]


def test_a_place_question_without_a_catalogue_service_is_searched():
    reply, _ = ask("光荣牌坏了去哪里换")
    assert "光荣牌" in reply["text"] and "/book_service" not in [b["payload"] for b in reply["buttons"]]


def test_a_follow_up_is_answered_from_the_entries_on_the_topic_just_answered():
    _, topic = ask("帮扶基金一户一年能给多少钱")
    reply, _ = ask("怎么申请", topic)  # alone, 帮扶基金一户 怎么申请 is below the relevance gate
    assert reply["text"].startswith("【家里困难怎样申请平湖帮扶基金】")


def test_a_fee_the_entry_does_not_mention_is_said_so():
    _, topic = ask("评残要带什么材料")
    reply, _ = ask("要钱吗", topic)
    assert NOT_STATED["fee"] in reply["text"]


def test_a_personal_number_and_the_words_giving_it_are_not_searched():
    from knowledge.context import without_personal_numbers

    assert without_personal_numbers("我身份证号330482196503121235帮我查下优待金发了没") == "帮我查下优待金发了没"
    assert without_personal_numbers("我的手机是13857312345 评残怎么办") == "评残怎么办"
    assert without_personal_numbers("优待证号怎么查") == "优待证号怎么查"


def test_youdaizheng_lost_then_what_to_bring_stays_with_the_replacement_entry():
    reply, topic = ask("优待证丢了怎么补办")
    assert reply["text"].startswith("【优待证丢失后怎么补办】")
    reply, _ = ask("那要带啥", topic)
    assert reply["text"].startswith("【优待证丢失后怎么补办】") and "本人身份证" in reply["text"]
    assert "以工作人员告知为准" in reply["text"]


def test_a_question_given_with_an_id_number_is_answered_as_without_it():
    plain, _ = ask("帮我查下优待金发了没")
    with_id, topic = ask("我身份证号330482196503121235帮我查下优待金发了没")
    assert with_id["text"] == plain["text"]
    assert "330482" not in (topic or "")
