"""Honest sources: every source a reply cites is registered (knowledge/sources.yml) as what it is,
a cited article exists in its law, and the citation line says the kind of source."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from knowledge.answer import citation
from knowledge.corpus import CORPUS_DIR, CorpusError, load_corpus
from knowledge.importer import parse_document
from knowledge.sources import LEGISLATION, SourceError, load_sources, registry
from tests.test_knowledge import write_entry

LAWS = Path(__file__).resolve().parents[2] / "shared" / "laws"
LAW_FILES = sorted(LAWS.glob("*.md")) if LAWS.is_dir() else []
needs_laws = pytest.mark.skipif(not LAW_FILES, reason=f"{LAWS} not available (a clean clone has no "
                                "../shared): the registry's article counts are checked instead")
ARTICLE = re.compile(r"第[零〇一二两三四五六七八九十百千]+条")
NAMED_ARTICLES = re.compile(r"《([^》]+)》((?:第[零〇一二两三四五六七八九十百千]+条[、和及]?)+)")
BUREAU = "具体以市退役军人事务局公布为准"


def front_matter(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8").split("---", 2)[1])


def cited_articles() -> list[tuple[str, str, str]]:
    """(entry id, law name, 第X条) for every article a corpus entry cites, in its front matter or
    as 《法名》第X条 in its text; read from the files, not through the loader that checks them."""
    cited = []
    for path in sorted(CORPUS_DIR.rglob("*.md")):
        meta, text = front_matter(path), path.read_text(encoding="utf-8").split("---", 2)[2]
        cited += [(path.stem, meta["source"], a) for a in ARTICLE.findall(str(meta.get("articles") or ""))]
        for name, articles in NAMED_ARTICLES.findall(text):
            law = registry().get(name)
            if law is not None and law.kind in LEGISLATION:
                cited += [(path.stem, law.name, a) for a in ARTICLE.findall(articles)]
    return cited


# ---------------------------------------------------------------- the project's corpus

def test_every_corpus_source_is_a_registered_name():
    sources = {path.stem: str(front_matter(path)["source"]) for path in CORPUS_DIR.rglob("*.md")}
    unregistered = {e: s for e, s in sources.items() if getattr(registry().get(s), "name", None) != s}
    assert not unregistered
    kinds = {registry().get(s).kind for s in sources.values()}
    assert kinds == {"law", "regulation", "local", "press", "practice"}


def test_every_cited_article_is_within_the_registered_law():
    cited = cited_articles()
    assert len(cited) > 200  # front matter and text both read
    outside = [c for c in cited if not registry().get(c[1]).has_article(c[2])]
    assert not outside


def test_law_entries_cite_the_registered_effective_date():
    for path in CORPUS_DIR.rglob("*.md"):
        meta = front_matter(path)
        source = registry().get(str(meta["source"]))
        if source.kind in LEGISLATION:
            assert str(meta["effective_date"]) == source.effective, path.stem


def test_each_kind_of_entry_is_cited_for_what_it_is():
    lines = {}
    for entry in load_corpus():
        kind = registry().get(entry.source).kind
        lines.setdefault(kind, set()).add(citation(entry))
    assert lines["press"] == {f"据平湖日报2020年报道，{BUREAU}"}
    assert lines["practice"] == {f"说明：这是本地一般做法，不出自正式文件，{BUREAU}"}
    assert lines["local"] == {f"据平湖日报2020年报道的《{name}》，{BUREAU}" for name in
                              ("退役军人三级服务保障体系网络建设意见",
                               "重点优抚对象和驻平部队官兵特殊困难家庭慈善救助实施方案")}
    assert "依据：《退役军人保障法》第十四条、第十五条（2021-01-01）" in lines["law"]
    assert "依据：《退役士兵安置条例》第三条、第十八条、第二十九条、第五十三条（2011-11-01，已废止）" in lines["regulation"]


def test_a_document_checklist_under_a_law_says_it_is_local_practice():
    """The laws name who issues or decides, not what to bring: the list is the bureau's practice."""
    for path in CORPUS_DIR.rglob("*.md"):
        meta = front_matter(path)
        if meta.get("checklist") and registry().get(str(meta["source"])).kind in LEGISLATION:
            assert "本地做法，以市退役军人事务局公布为准" in path.read_text(encoding="utf-8"), path.stem


# ---------------------------------------------------------------- the loader refuses what is not registered

@pytest.mark.parametrize(("meta", "problem"), [
    ({"source": "平湖市退役军人事务局服务说明", "articles": ""},
     "source '平湖市退役军人事务局服务说明' is not a source name in knowledge/sources.yml"),
    ({"source": "中华人民共和国退役军人保障法"}, "is not a source name"),  # the imported title
    ({"source": "平湖日报2020年报道", "articles": "第一条"}, "平湖日报2020年报道 (press) has no articles"),
    ({"articles": "第八十六条"}, "第八十六条 is not an article of 退役军人保障法 (85 articles"),
    ({"effective_date": "2020-11-11"}, "退役军人保障法 is in force from 2021-01-01"),
], ids=["unregistered", "full-title", "articles-of-a-report", "no-such-article", "wrong-date"])
def test_a_corpus_entry_citing_what_is_not_registered_fails_the_build(tmp_path, meta, problem):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_entry(corpus, "good", "优待证", "退役军人优待证由安置地发放。", articles="第十五条")
    bad = write_entry(corpus, "fake", "假条目", "随便写的。", **meta)
    with pytest.raises(CorpusError, match=re.escape(f"{bad}: ") + ".*" + re.escape(problem)):
        load_corpus(corpus)


def test_an_article_named_in_the_text_is_checked_too(tmp_path):
    bad = write_entry(tmp_path, "inline", "抚恤", "依照《军人抚恤优待条例》第三十条、第六十五条办理。")
    with pytest.raises(CorpusError, match="第六十五条 is not an article of 军人抚恤优待条例"):
        load_corpus(tmp_path)
    bad.write_text(bad.read_text(encoding="utf-8").replace("第六十五条", "第六十四条"), encoding="utf-8")
    assert load_corpus(tmp_path)[0].id == "inline"


# ---------------------------------------------------------------- the registry's own checks

def registry_file(tmp_path: Path, entries: dict) -> Path:
    path = tmp_path / "sources.yml"
    path.write_text(yaml.safe_dump(entries, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


LAW = {"kind": "law", "title": "中华人民共和国示例法", "date": "2020-01-01", "effective": "2020-02-01",
       "articles": 10}
PRESS = {"kind": "press", "outlet": "平湖日报", "date": 2020, "title": "示例报道"}


def test_the_shipped_registry_and_a_minimal_one_load(tmp_path):
    assert registry().get("中华人民共和国退役军人保障法").name == "退役军人保障法"
    small = load_sources(registry_file(tmp_path, {"示例法": LAW, "报道": PRESS,
                                                  "方案": {"kind": "local", "via": "报道"}}))
    assert [s.name for s in small] == ["示例法", "报道", "方案"]
    assert small.get("报道").year == "2020" and small.get("示例法").has_article("第十条")
    assert not small.get("示例法").has_article("第十一条")


@pytest.mark.parametrize(("entry", "problem"), [
    ({"kind": "rumour"}, "kind 'rumour' is not one of"),
    ({**LAW, "articles": None}, "law needs articles"),
    ({**LAW, "articles": "85"}, "articles should be the number of articles"),
    ({**LAW, "effective": "2020"}, "effective should be YYYY-MM-DD"),
    ({**PRESS, "date": "2020年初"}, "date should be YYYY, YYYY-MM or YYYY-MM-DD"),
    ({"kind": "press", "outlet": "平湖日报", "date": 2020}, "press needs title"),
    ({"kind": "local"}, "local needs date or via"),
    ({"kind": "local", "via": "示例法"}, "via '示例法' is not a registered press report"),
    ({"kind": "practice"}, "practice needs note"),
    ({**PRESS, "url": "x"}, "unknown field url"),
    ({**LAW, "title": "中华人民共和国示例法"}, "title '中华人民共和国示例法' is registered twice"),
])
def test_a_bad_registry_entry_is_named(tmp_path, entry, problem):
    path = registry_file(tmp_path, {"示例法": LAW, "坏条目": entry})
    with pytest.raises(SourceError, match=re.escape(f"{path}: 坏条目: {problem}")):
        load_sources(path)


# ---------------------------------------------------------------- against the law texts, when present

@needs_laws
@pytest.mark.parametrize("path", LAW_FILES, ids=[p.stem for p in LAW_FILES])
def test_each_shared_law_is_registered_as_imported(path):
    doc = parse_document(path)
    source = registry().get(doc.title)
    assert source is not None and source.title == doc.title
    assert source.kind == ("law" if doc.title.endswith("法") else "regulation")
    assert source.date == doc.date
    assert source.articles == len(dict.fromkeys(p.article for p in doc.passages))


@needs_laws
def test_every_cited_article_exists_in_the_law_text():
    docs = [parse_document(path) for path in LAW_FILES]
    articles = {registry().get(doc.title).name: {p.article for p in doc.passages} for doc in docs}
    missing = [c for c in cited_articles() if c[2] not in articles[c[1]]]
    assert not missing



def test_a_bad_registry_stops_the_corpus_load_with_its_message(tmp_path, monkeypatch):
    path = registry_file(tmp_path, {"示例法": {"kind": "rumour"}})
    monkeypatch.setattr("knowledge.corpus.registry", lambda: load_sources(path))
    with pytest.raises(CorpusError, match=re.escape(f"{path}: 示例法: kind 'rumour'")):
        load_corpus()  # what `vetbot kb build` reports as 语料有误 instead of a traceback
