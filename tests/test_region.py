"""other_place(): a question about another place's rules, and not one about ours."""
import pytest

from knowledge.evaluate import load_questions
from knowledge.region import other_place


@pytest.mark.parametrize("question, place", [
    ("上海退伍兵一次性经济补助有多少钱", "上海"),
    ("北京市退役军人一次性经济补助标准是多少", "北京"),
    ("江苏那边义务兵家里优待金一年多少", "江苏"),
    ("退役军人养老保险在杭州和宁波的缴费基数分别是多少", "杭州"),  # the first one named
    ("嘉善县退役军人服务站的电话是多少", "嘉善"),  # Jiaxing, but not Pinghu: not our local rules
    ("美国退伍军人的养老金每个月能拿多少美元", "美国"),
    ("湖南退伍兵的一次性补助啥时候发", "湖南"),
])
def test_a_question_about_another_place_names_it(question, place):
    assert other_place(question) == place


@pytest.mark.parametrize("question", [
    "当兵回来能拿多少钱",  # no place at all
    "平湖的帮扶基金一年给多少",
    "嘉兴的退役军人优待证在哪办",
    "浙江省义务兵家庭优待金标准",
    "我是乍浦镇的老兵优待证在哪里领",  # a Pinghu town (booking/locations.yml)
    "林带镇服务站几点上班",  # a town as voice input writes it, listed there too
    "我在上海工作户口在平湖，优待证在哪办",  # home named too: our rules may well apply
    "我年轻时候在新疆参加过核试验，现在有啥待遇",  # where he served, not whose rules
    "我在西藏当过兵有没有补助",
    "我领伤残金的，准备把户口迁到上海儿子那，钱还能接着领吗",  # moving away: the transfer is ours
    "上海路那个服务站怎么走",  # a street, not the city
])
def test_a_question_about_home_or_no_place_is_not_flagged(question):
    assert other_place(question) is None


def test_no_answerable_dev_question_is_flagged_and_the_other_city_ones_are():
    questions = load_questions()
    flagged = [q.text for q in questions if q.answers and other_place(q.text)]
    assert flagged == []
    cities = [q.text for q in questions if not q.answers and any(c in q.text for c in ("上海", "北京", "江苏", "广东"))
              and "平湖" not in q.text]  # 平湖到上海虹桥的大巴: home named, not another place's rules
    assert len(cities) >= 5 and [q for q in cities if not other_place(q)] == []
