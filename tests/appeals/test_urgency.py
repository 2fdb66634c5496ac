"""Urgency signals (appeals/urgency.yml) in both directions: texts that must alarm, each with the
exact signals expected, and ordinary texts that must not (questions about 上访, deaths long ago,
跳楼价, 打人工, old soldiers' memories)."""
from __future__ import annotations

import pytest

from appeals import urgency

MUST_ALARM = [
    # self-harm
    ("我真的不想活了", ["self_harm"]),
    ("活着没意思 什么都没有了", ["self_harm"]),
    ("这样下去我想死的心都有了", ["self_harm"]),
    ("再不解决我就去跳楼", ["self_harm"]),
    ("日子活不下去了 你们管不管", ["self_harm"]),
    ("我已经买好农药了 大不了喝农药", ["self_harm"]),
    ("不如死了算了 省得拖累家里", ["self_harm"]),
    ("昨天晚上差点想不开", ["self_harm"]),
    ("我准备一死了之", ["self_harm"]),
    ("老伴说要跳河 我拦都拦不住", ["self_harm"]),
    ("活着真没啥意思 病也看不起", ["self_harm"]),
    ("攒了一瓶安眠药 准备吃安眠药走", ["self_harm"]),
    # violence
    ("邻居又来打人了 把我老婆打伤了", ["violence"]),
    ("他再占我的地 我就拿刀去找他", ["violence"]),
    ("包工头不给钱 我要砍了他", ["violence"]),
    ("村干部把我打了一顿", ["violence"]),
    ("逼急了我跟他同归于尽", ["violence"]),
    ("我被他们打得住院了", ["violence"]),
    ("今天在村委会打起来了", ["violence"]),
    ("老板再赖账我就跟他拼了", ["violence"]),
    ("他说要放火烧我家房子", ["violence"]),
    # 群体性
    ("我们一群老兵准备明天去市政府", ["group"]),
    ("几十个战友商量好了集体去讨说法", ["group"]),
    ("村里好多人要拉横幅堵路", ["group"]),
    ("明天大家一起去镇里闹", ["group", "petition"]),
    ("已经有上百人在政府门口静坐", ["group"]),
    # 上访
    ("这个事情不解决我就去北京", ["petition"]),
    ("我要越级上访", ["petition"]),
    ("已经上访好几次了没人管", ["petition"]),
    ("我准备告到省里去", ["petition"]),
    ("实在不行我进京反映", ["petition"]),
    ("我要去政府门口闹", ["petition"]),
    # acute hardship
    ("家里已经没饭吃了", ["hardship"]),
    ("断粮两天了", ["hardship"]),
    ("冬天没暖气 老人冻得受不了", ["hardship"]),
    ("天这么冷家里没有取暖的东西", ["hardship"]),
    ("交不起医药费 马上要手术了", ["hardship"]),
    ("医院催着交押金 手术费实在拿不出", ["hardship"]),
    ("饿了好几天了", ["hardship"]),
    ("被房东赶出来 今晚没地方住", ["hardship"]),
    ("家里揭不开锅了", ["hardship"]),
    # a death in the family
    ("我爸昨天去世了", ["death"]),
    ("老伴刚刚走了 我不知道该怎么办", ["death"]),
    ("我儿子在工地上出事故没了", ["death"]),
    ("老战友前天过世了 家里很困难", ["death"]),
    ("我母亲今天早上去世了 丧葬的事情要找谁", ["death"]),
    ("爱人突然走了 留下我和孩子", ["death"]),
    # several at once; voice typing without punctuation; the signal after an excluded phrase
    ("活着没意思我要去北京上访", ["self_harm", "petition"]),
    ("家里没饭吃了我还不如死了", ["self_harm", "hardship"]),
    ("想了解上访的流程 反正我是不想活了", ["self_harm"]),
    ("我要去上访 上访的流程是什么", ["petition"]),
    ("跳楼价卖了房子也不够 我想死", ["self_harm"]),
    ("本来不想上访去北京的 现在没办法了", ["petition"]),  # the exclusion only touches 去北京
]

MUST_NOT_ALARM = [
    "想了解上访的流程",
    "请问上访要准备什么材料",
    "我不会去上访的 就是想问问政策",
    "我爸去世前是老兵 想问问有没有抚恤",
    "老战友走了好几年了 想问问抚恤",
    "我父亲去世多年了 烈属待遇还有吗",
    "老人去世以后丧葬费怎么申请",
    "以前打过仗 参战的补助怎么领",
    "当年在前线打仗负过伤",
    "跳楼价？这房子怎么卖这么便宜",
    "当年跳河救人立过功 有没有奖励",
    "怎么打人工电话",
    "我想打人工 机器人听不懂",
    "战友们 想死你们了",
    "我还不想死 想把病好好治一治",
    "暖气补贴怎么申请",
    "冬天的取暖费能不能补助一点",
    "小时候没饭吃的年代都过来了",
    "儿子在北京打工 我想去北京看看他",
    "想带孙子去北京天安门看升旗",
    "去北京看病能不能报销",
    "我们一群老战友想搞个聚会",
    "几十个老兵想组织去烈士陵园扫墓",
    "老兵合唱队有十几个人一起排练",
    "老伴去年走了 我一个人过 生活困难",
    "我母亲早就去世了 我是独生子",
    "跟老婆吵架 她跟人走了",
    "去镇里跑了好几趟 走了好几趟都没办成",
    "钱都被他拿走了 欠条也没有",
    "工作没了 想找个活干",
    "气死我了 补助又没发",
    "医药费报销比例太低",
    "孩子学费交不起 想申请助学",
    "日子过不下去了 想申请困难补助",
    "优待证怎么办理",
    "家里房子漏雨 想申请危房改造",
    "邻居占了我家的地 想请你们调解",
    "老板拖欠工资三个月",
    "我要是去世了 老伴能领什么",
    "牺牲的战友埋在哪里 想去祭扫",
    "打针吃药的钱能报吗",
    "信访的渠道有哪些",
    "义务兵家庭优待金一直没有发",
    "以前在部队用过刀 现在切菜手都抖",
    "材料交给战友 没了下文",  # a pause ends the clause: 战友 is not who 没了
]


def test_the_sets_are_big_enough_and_distinct():
    assert len(MUST_ALARM) >= 40 and len(MUST_NOT_ALARM) >= 40
    alarms = [text for text, _ in MUST_ALARM]
    assert len(set(alarms)) == len(alarms) and len(set(MUST_NOT_ALARM)) == len(MUST_NOT_ALARM)
    assert set(alarms).isdisjoint(MUST_NOT_ALARM)


@pytest.mark.parametrize("text, expected", MUST_ALARM)
def test_must_alarm(text, expected):
    assert urgency.urgent_signals(text) == expected


@pytest.mark.parametrize("text", MUST_NOT_ALARM)
def test_must_not_alarm(text):
    assert urgency.urgent_signals(text) == []


def test_every_signal_is_exercised_by_the_alarms():
    found = {signal for _, expected in MUST_ALARM for signal in expected}
    assert found == {signal.id for signal in urgency.signals()}


def test_labels_for_staff():
    assert [urgency.label(s.id) for s in urgency.signals()] == [
        "自伤自杀风险", "暴力风险", "群体性", "上访", "生活急难", "家中有人去世"]
    assert urgency.label("nope") == "nope"  # an id no longer in the file: shown as stored


def test_a_bad_signals_file_is_refused_naming_the_entry(tmp_path):
    bad = tmp_path / "urgency.yml"
    bad.write_text("self_harm:\n  label: 自伤\n  patterns: ['不想活(']\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"self_harm 的 patterns: '不想活\(' 写错了"):
        urgency.load_signals(bad)
    bad.write_text("violence:\n  label: 暴力\n", encoding="utf-8")
    with pytest.raises(ValueError, match="violence: 缺少 patterns"):
        urgency.load_signals(bad)
