"""Answer composition: short, sourced, and only the passage's own words."""
from knowledge.answer import citation, compose, compose_full, flatten, short_rule
from knowledge.passage import Passage
from knowledge.search import Hit

# 18 characters; repeated with "，" it makes one sentence far longer than a reply should be.
CLAUSE = "退役军人可以凭优待证享受公共交通优待"


def passage(text: str, **fields) -> Passage:
    base = dict(id="x", doc_id="x", title="优待证怎么申领", source="退役军人保障法", article="第十四条",
                date="2021-01-01", in_force=True, region="全国", category="优待证", text=text)
    base.update(fields)
    return Passage(**base)


def test_short_rule_keeps_whole_sentences():
    assert short_rule("第一句。第二句！第三句。") == "第一句。第二句！"
    assert short_rule("第一句。第二句？") == "第一句。第二句？"
    assert short_rule("只有一句。") == "只有一句。"


def test_empty_text_gives_an_empty_rule():
    assert short_rule("") == ""
    assert short_rule(" \n ") == ""


def test_second_sentence_only_when_both_fit_the_limit():
    assert short_rule("甲乙。丙丁。", limit=6) == "甲乙。丙丁。"  # exactly the limit
    assert short_rule("甲乙。丙丁。", limit=5) == "甲乙。"


def test_a_sentence_of_exactly_the_limit_is_not_cut():
    assert short_rule("一二三四五。", limit=6) == "一二三四五。"


def test_long_sentence_is_cut_after_the_last_whole_clause():
    text = "，".join([CLAUSE] * 12) + "。"
    # The first 60 characters hold three whole clauses and the start of a fourth.
    assert short_rule(text, limit=60) == "，".join([CLAUSE] * 3) + "……"
    assert short_rule("甲甲，乙乙乙乙乙乙。", limit=5) == "甲甲……"  # one whole clause, the comma dropped


def test_long_sentence_without_a_clause_break_is_cut_at_the_limit():
    assert short_rule("一二三四五六七八。", limit=4) == "一二三四……"


def test_cut_drops_only_the_punctuation_before_the_ellipsis():
    text = "咨询电话请拨12345转X，工作日上午九点到下午五点有人接听。"
    assert short_rule(text, limit=20) == "咨询电话请拨12345转X……"


def test_flatten_joins_chinese_lines_and_single_spaces_other_runs():
    assert flatten("退役军人\n  优待证 申领\n办法  Veteran   card\t ID") == "退役军人优待证 申领办法 Veteran card ID"


def test_compose_cites_source_article_and_date():
    reply = compose(Hit(passage("凭身份证到服务站申请，不收费。"), 1.0, 0.95))
    assert reply == "【优待证怎么申领】凭身份证到服务站申请，不收费。\n依据：《退役军人保障法》第十四条（2021-01-01）"


def test_compose_gives_the_short_rule_and_compose_full_the_whole_passage():
    text = "第一句。第二句。第三句。"
    hit = Hit(passage(text), 1.0, 0.95)
    cite = "依据：《退役军人保障法》第十四条（2021-01-01）"
    assert compose(hit) == f"【优待证怎么申领】第一句。第二句。\n{cite}"
    assert compose_full(hit) == f"【优待证怎么申领】第一句。第二句。第三句。\n{cite}"


def test_citation_without_an_article_names_the_source_and_date():
    local = passage("x", source="平湖市退役军人事务局服务说明", article="", date="2023-05-01")
    assert citation(local) == "依据：《平湖市退役军人事务局服务说明》（2023-05-01）"


def test_repealed_and_imported_law_passages_say_so():
    law = passage("国家建立退役士兵安置制度。", category="法规", title="退役士兵安置条例",
                  source="退役士兵安置条例", article="第二条", date="2011-10-29", in_force=False)
    reply = compose(Hit(law, 1.0, 0.95))
    assert reply == "国家建立退役士兵安置制度。\n依据：《退役士兵安置条例》第二条（2011-10-29，已废止）"
