"""Ranking priors of knowledge/search.py, in the production (hybrid) mode: a Pinghu veteran gets
Pinghu's own measure first when it is as relevant as the national one, a rule from another region
only after the rules that apply here, and a repealed rule never above the one in force — even when
the text alone would rank them the other way."""
from __future__ import annotations

import pytest

from knowledge.index import build_index, open_store, sync_corpus
from knowledge.search import KnowledgeBase
from knowledge.sources import Registry, Source, registry
from tests.test_knowledge import write_entry

HELP = "退役军人家庭遇到重大困难，可以向户籍所在地的退役军人服务站申请临时帮扶。"
CHECKUP = "退役军人每两年可以参加一次免费健康体检，由服务站统一组织。"
MADE_UP = [Source(name, "local", date="2023")  # local documents of these tests only
           for name in ("平湖市困难帮扶示例办法", "平湖市体检示例通知", "上海市创业示例办法")]


@pytest.fixture(scope="module")
def kb(tmp_path_factory, embedder):
    corpus = tmp_path_factory.mktemp("corpus")
    # Two pairs of equally relevant passages (same title and text), stored in both orders, so the
    # home region wins whichever of the pair the store, BM25 or FAISS happen to list first.
    write_entry(corpus, "a1-bangfu-pinghu", "困难帮扶", HELP, region="平湖", source="平湖市困难帮扶示例办法", articles="")
    write_entry(corpus, "a2-bangfu-quanguo", "困难帮扶", HELP, region="全国")
    write_entry(corpus, "b1-tijian-quanguo", "健康体检", CHECKUP, region="全国")
    write_entry(corpus, "b2-tijian-pinghu", "健康体检", CHECKUP, region="平湖", source="平湖市体检示例通知", articles="")
    # Another region's rule that matches the question better than the national one.
    write_entry(corpus, "c1-chuangye-shanghai", "退役军人创业补贴",
                "退役军人自主创业的，可以申请一次性创业补贴一万元，并享受三年税费减免。",
                region="上海", source="上海市创业示例办法", articles="")
    write_entry(corpus, "c2-chuangye-quanguo", "退役军人就业扶持", "国家鼓励退役军人就业，按规定给予税费减免。")
    # A repealed rule that matches the question better than the one that replaced it.
    write_entry(corpus, "d1-anzhi-old", "退役士兵安置方式", "退役士兵的安置方式有自主就业、安排工作、退休、供养四种。",
                in_force=False, source="退役士兵安置条例", effective_date="2011-11-01")
    write_entry(corpus, "d2-anzhi-new", "退役军人怎么安置",
                "退役军人安置按照退役军人安置条例办理，可以选择自主就业，也可以由政府安排工作，符合条件的退休或者供养。",
                source="退役军人安置条例", effective_date="2024-09-01")
    write_entry(corpus, "e-youdai", "优待证怎么申领", "退役军人优待证由退役军人事务部门免费发放。")
    base = tmp_path_factory.mktemp("data")
    store = open_store(base)
    with pytest.MonkeyPatch.context() as patch:  # the made-up documents are registered here only
        patch.setattr("knowledge.corpus.registry", lambda: Registry([*registry(), *MADE_UP]))
        sync_corpus(store, corpus)
    build_index(store, embedder, base=base)
    kb = KnowledgeBase(embedder, base=base)
    kb.judge = None  # nine made-up passages: the cosine threshold, not the judge fitted on the real corpus
    return kb


def ranked(kb, question: str, ids: set[str]) -> list[str]:
    return [h.passage.id for h in kb.search(question, top_k=10, strict=False) if h.passage.id in ids]


@pytest.mark.parametrize("question, pinghu, national", [
    ("家里困难能申请帮扶吗", "a1-bangfu-pinghu", "a2-bangfu-quanguo"),
    ("退役军人体检免费吗", "b2-tijian-pinghu", "b1-tijian-quanguo"),
])
def test_home_region_first_when_equally_relevant(kb, question, pinghu, national):
    hits = kb.search(question)
    assert [h.passage.id for h in hits[:2]] == [pinghu, national]
    assert hits[0].relevance == pytest.approx(hits[1].relevance, abs=1e-6)  # the text did not decide


def test_other_regions_rule_comes_after_the_ones_that_apply_here(kb):
    assert kb.search("退役军人创业有什么补贴")[0].passage.id == "c2-chuangye-quanguo"
    order = ranked(kb, "退役军人创业有什么补贴", {"c1-chuangye-shanghai", "c2-chuangye-quanguo"})
    assert order == ["c2-chuangye-quanguo", "c1-chuangye-shanghai"]


def test_repealed_rule_ranks_below_the_rule_in_force(kb):
    hits = kb.search("退役士兵的安置方式有哪几种")
    assert hits[0].passage.id == "d2-anzhi-new" and hits[0].passage.in_force
    assert ranked(kb, "退役士兵的安置方式有哪几种", {"d1-anzhi-old", "d2-anzhi-new"}) == ["d2-anzhi-new", "d1-anzhi-old"]
    old = next(h for h in kb.search("退役士兵的安置方式有哪几种", top_k=10, strict=False) if h.passage.id == "d1-anzhi-old")
    assert old.relevance > hits[0].relevance  # the text alone prefers the repealed rule
