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
    # an imported document without articles (not in knowledge/sources.yml): its own title and date
    local = passage("x", source="平湖市光荣牌悬挂示例办法", article="", date="2023-05-01")
    assert citation(local) == "依据：《平湖市光荣牌悬挂示例办法》（2023-05-01）"


def test_a_press_report_is_cited_as_such_with_the_bureau_caveat():
    press = passage("x", source="平湖日报2020年报道", article="", date="2019-07-03", region="平湖")
    assert citation(press) == "据平湖日报2020年报道，具体以市退役军人事务局公布为准"


def test_general_practice_says_it_is_no_rule():
    practice = passage("x", source="平湖工作实务", article="", date="2020-01-01", region="平湖")
    assert citation(practice) == "说明：这是本地一般做法，不出自正式文件，具体以市退役军人事务局公布为准"


def test_a_local_document_known_from_a_report_names_both():
    local = passage("x", source="退役军人三级服务保障体系网络建设意见", article="", date="2020-01-01")
    assert citation(local) == ("据平湖日报2020年报道的《退役军人三级服务保障体系网络建设意见》，"
                               "具体以市退役军人事务局公布为准")

