"""The dialogue evaluation as a gate: a fixed small part of the dev set sent through the trained
model and the real action server (`vetbot kb eval --dialogue` runs all of it, dev and held-out).

The subset is pinned here by text (labels come from tests/kb_eval/): 43 answerable first messages
(every 8th answerable dev question, file order), 15 unanswerable ones (every 4th), 6 conversations
(follow-ups, a new topic, an unanswerable follow-up) and 15 noise messages (the first 15 dev ones:
7 pairs, so 7 two-misses-in-a-row checks). About 90 turns.

FLOORS are set below what this subset measured on the model of 2026-12-02 (see bench/README.md,
"Dialogue evaluation"; the measured values are beside each floor), to catch a regression, not to
state the targets of issue 10: the routing and the relevance judge are being changed, and when
they improve the figures these floors should be raised. The whole run takes about a minute here
(78 s on the busy machine; the stack itself is shared with the other stack tests)."""
from __future__ import annotations

import time

import pytest

from knowledge import dialogue_eval as de

pytestmark = pytest.mark.stack

QUESTIONS = [
    "退伍回来多少天之内要去报到", "补办优待证要多久才拿得到新的", "伤残抚恤金一个月能拿多少钞票",
    "一到四级残疾的老兵能不能住到集体的地方去养", "贴息贷款到哪里去申请", "什么人退伍能给安排工作",
    "在部队那几年算不算我的工作年头", "优待金是中央出钱还是地方出钱", "烈属的小孩上高中有照顾伐",
    "带病回乡认定我跑不动能找人帮我办吗", "结婚要满几年才能到老婆那边安置", "没评残的退伍老兵坐公交车免费不",
    "退伍军人法律援助去哪申请", "去当兵了家里的承包田会不会被村里收回去", "当兵的年数领失业金算不算",
    "老兵坐长途汽车能优先买票吗", "办优待证收不收工本废", "退伍了想去读个大专，学费能不能减点",
    "我转业回平湖，小孩跟着回来转学谁给办", "退役后失叶保险怎么领，当兵年限算缴费吗",
    "退役军人创业能否优先入驻政府建设的创业园区？", "部队里受伤死亡的那个保险要自己掏钱交吗",
    "一至六级残疾军人的医疗费用如何保障？", "带老战友去南湖、乌镇玩，当过兵能不能免门票",
    "我去部队看老公，单位说要扣我奖金，这合理吗", "平湖那个帮扶基金一户一年最多能给多少",
    "我们村里的老兵服务站能帮我办什么事", "在平湖自主就业退伍，除了部队给的钱，地方上还有补贴吗",
    "平湖市获得过哪些双拥模范城称号？", "退伍以后兵役登记那块信息要不要去改一下",
    "接收单位未按期安排退役士兵上岗的，应如何发放生活费？", "部队干部退下来，除了转业还有啥办法",
    "转业回来老婆工作怎么办，孩子上学能跟着转过来吗", "一次性退役金是否需要缴纳个人所得税？",
    "站岗时突发疾病摔伤致残算不算应公致残", "要补评伤残得准备些啥，病历找不到了咋弄",
    "伤残金一个月到底多少钱，是照啥定的", "打过仗的老兵每个月有补贴吗，人走了还发不发",
    "退伍老兵去医院看病有没有啥照顾", "牺牲的战士生前立过二等功，抚恤金能多发吗",
    "烈士家属能领的那笔褒扬的钱有多少，给谁", "烈属坐火车有没有优先，住房困难政府管不管",
    "退役军人的事归哪个部门管，村里有没有人管",
    # unanswerable
    "平湖明天会不会下雨，出门要不要带伞", "帮我查一下我这个月的抚恤金到账了没有",
    "退役军人办护照要去哪个窗口，要多久", "退伍军人炒外汇亏了钱，国家给不给赔",
    "退役军人在日本旅游坐新干线能优先吗", "退伍兵去新加坡打工工资一般多少",
    "浙江省公务员考试行测怎么复习，推荐什么书", "我的优待金这个月怎么没到", "上海的退役军人帮扶基金怎么申请",
    "退伍军人去民政局办结婚登记要带啥", "残疾抚恤金能不能一次性全部提前领出来", "新兵入伍体检视力要求多少",
    "浙江省荣军医院挂号电话多少", "我这个月的定期补助为啥少了五十块", "上海的军人子女上学有啥政策",
]
CONVERSATIONS = ["pingcan-1", "baodao-1", "youdaizheng-buban-1", "new-topic-2", "new-topic-3", "unans-follow-2"]
NOISE = ["嗯嗯那个", "呃呃呃呃", "阿巴阿巴", "qwerty", "123abc", "😂😂😂", "sdjfklsdjf", "我想问一下那个",
         "嗯啊那个就是说嗯", "额额额", "嗯……那个……", "这个这个这个", "唔唔唔", "哦哦哦那个", "嗯嗯啊啊"]

# (set, outcome): the least share of that set's messages with that outcome, and the largest one.
# Beside each, what the subset measured on 2026-12-02 with the model trained at 15:47: first at
# commit 6943cf6 (one cosine threshold), then with the relevance judge of issue 10 item 5 then being
# wired in (not yet committed) and the noise rules of 3a79fb1. The judge trades answers for refusals,
# so each floor is below the lower of the two.
FLOORS = {
    ("questions", "right"): 0.42,  # 0.581 = 25/43; with the judge 0.488 = 21/43
    ("unanswerable", "refused"): 0.40,  # 0.467 = 7/15; 0.867 = 13/15
    ("follow_up", "right"): 0.33,  # 0.500 = 3/6; 0.667 = 4/6
    ("noise", "fallback"): 0.73,  # 0.867 = 13/15; 1.000 = 15/15
}
CEILINGS = {
    ("questions", "wrong"): 0.33,  # 0.256 = 11/43; 0.116 = 5/43
}


def pinned() -> tuple[list[de.Item], list[de.Conversation], list[dict]]:
    by_text = {q.text: q for q in de.load_questions()}
    conversations = {c.id: c for c in de.load_conversations()}
    noise = {n["message"]: n for n in de.load_messages("noise.yml")}
    gone = [t for t in QUESTIONS if t not in by_text] + [c for c in CONVERSATIONS if c not in conversations]
    gone += [n for n in NOISE if n not in noise]
    assert not gone, f"the gate's subset is no longer in tests/kb_eval: {gone}"
    items = [by_text[t] for t in QUESTIONS]
    assert all(i.split == "dev" for i in items)
    return items, [conversations[c] for c in CONVERSATIONS], [noise[n] for n in NOISE]


@pytest.fixture(scope="module")
def measured(live_stack):
    stack = live_stack[1]
    bot = de.Bot(stack.rasa_url, stack.token, timeout=120)
    bot.say("dialogue-eval-warm-up", "评残要带什么材料")  # the first question loads the search
    questions, conversations, noise = pinned()
    started = time.monotonic()
    records = de.evaluate_dialogue(bot, questions, conversations, noise, [], quiet=True)
    print(f"\ndialogue eval subset: {len(records)} records in {time.monotonic() - started:.0f} s")
    summary = de.summarise(records)["dev"]
    print(de.table({"dev": summary, "heldout": {}}))
    return summary, records


def misses(records, group: str, good: set[str]) -> list[str]:
    return [f"{r.text} → {r.outcome} {r.answer_id or r.offered or ''} {r.actions}"
            for r in records if r.group == group and r.outcome not in good]


def test_every_pinned_message_was_sorted(measured):
    summary, _ = measured
    assert summary["questions"]["n"] + summary["unanswerable"]["n"] == len(QUESTIONS)
    assert summary["noise"]["n"] == len(NOISE)
    assert summary["two_misses"]["n"] == len(NOISE) // 2


@pytest.mark.parametrize("key", sorted(FLOORS), ids="-".join)
def test_floors(measured, key):
    summary, records = measured
    group, outcome = key
    value = summary.get(group, {}).get(outcome, 0.0)
    assert value >= FLOORS[key], (key, value, misses(records, group, {outcome}))


@pytest.mark.parametrize("key", sorted(CEILINGS), ids="-".join)
def test_ceilings(measured, key):
    summary, records = measured
    group, outcome = key
    value = summary.get(group, {}).get(outcome, 0.0)
    assert value <= CEILINGS[key], (key, value, [m for m in misses(records, group, set()) if f"→ {outcome} " in m])


def test_the_second_miss_in_a_row_offers_a_person_every_time(measured):
    """Of the noise pairs where both messages reached the fallback, every second one offers a person."""
    _, records = measured
    pairs = [r for r in records if r.group == "two_misses"]
    two_misses = [r for r in pairs if r.outcome != "not_two_misses"]
    assert two_misses, "no pair of noise messages reached the fallback twice: the check did not run"
    assert all(r.outcome == "offered" for r in two_misses), [(r.text, r.offered, r.actions) for r in two_misses]
