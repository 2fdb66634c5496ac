"""Answer composition: short, sourced, and only the passage's own words."""
from knowledge.answer import compose, short_rule
from knowledge.passage import Passage
from knowledge.search import Hit


def passage(text: str, **fields) -> Passage:
    base = dict(id="x", doc_id="x", title="优待证怎么申领", source="退役军人保障法", article="第十四条",
                date="2021-01-01", in_force=True, region="全国", category="优待证", text=text)
    base.update(fields)
    return Passage(**base)


def test_short_rule_keeps_whole_sentences():
    assert short_rule("第一句。第二句！第三句。") == "第一句。第二句！"


def test_long_sentence_is_cut_after_a_clause_not_mid_word():
    text = "，".join(["退役军人可以凭优待证享受公共交通优待"] * 12) + "。"
    rule = short_rule(text, limit=60)
    assert rule.endswith("……") and len(rule) <= 62
    assert rule[:-2] in text


def test_compose_cites_source_article_and_date():
    reply = compose(Hit(passage("凭身份证到服务站申请，不收费。"), 1.0, 0.95))
    assert reply == "【优待证怎么申领】凭身份证到服务站申请，不收费。\n依据：《退役军人保障法》第十四条（2021-01-01）"


def test_repealed_and_imported_law_passages_say_so():
    law = passage("国家建立退役士兵安置制度。", category="法规", title="退役士兵安置条例",
                  source="退役士兵安置条例", article="第二条", date="2011-10-29", in_force=False)
    reply = compose(Hit(law, 1.0, 0.95))
    assert reply.startswith("国家建立") and "（2011-10-29，已废止）" in reply
