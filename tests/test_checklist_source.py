"""One source of truth: the corpus entries that say which documents to bring are filled from the
booking catalogue (booking/catalogue.yml), the same data the booking reads back."""
from __future__ import annotations

import re

import pytest
import yaml

from booking.catalogue import CATALOGUE_FILE, load_catalogue
from knowledge.corpus import CORPUS_DIR, CorpusError, parse_entry

# the entries that state documents (booking/README.md, "One source of truth")
CHECKLIST_ENTRIES = {
    "pingcan-cailiao": "pingcan-xinban",
    "pingcan-buban": "pingcan-buban",
    "pingcan-zhiyebing-tanpian": "pingcan-buban",
    "pinghu-daiban": "pingcan-buban",
    "baodao-cailiao": "tuiyi-baodao",
    "youdaizheng-shenling": "youdaizheng-shenling",
    "youdaizheng-huanling": "youdaizheng-buban",
    "fuxu-kuadi-qianyi": "fuxu-guanxi-zhuanyi",
    "fuxu-canzhan-rending": "canzhan-rending",
    "pinghu-bangfu-shenqing": "kunnan-bangfu",
    "pinghu-yicixing-buzhu": "yicixing-buzhu",
}
PINGCAN_MATERIALS = CORPUS_DIR / "pingcan" / "pingcan-cailiao.md"


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def _front_matter(path):
    return yaml.safe_load(path.read_text(encoding="utf-8").split("---", 2)[1])


def _entry_path(entry_id):
    return next(CORPUS_DIR.rglob(f"{entry_id}.md"))


def test_every_checklist_key_names_an_existing_service_that_lists_the_entry(catalogue):
    keys = {}
    for path in CORPUS_DIR.rglob("*.md"):
        service_id = _front_matter(path).get("checklist")
        if service_id is not None:
            keys[path.stem] = service_id
    assert keys == CHECKLIST_ENTRIES
    for entry_id, service_id in keys.items():
        assert entry_id in catalogue.service(service_id).corpus, entry_id


@pytest.mark.parametrize("entry_id", sorted(CHECKLIST_ENTRIES))
def test_entry_text_holds_its_service_checklist(catalogue, entry_id):
    passage = parse_entry(_entry_path(entry_id), catalogue)
    assert catalogue.service(CHECKLIST_ENTRIES[entry_id]).checklist() in passage.text
    assert "{{" not in passage.text


def test_pingcan_materials_passage_names_every_catalogue_document(catalogue):
    text = parse_entry(PINGCAN_MATERIALS).text
    for document in catalogue.service("pingcan-xinban").documents:
        assert document in text, document


def test_changing_the_catalogue_changes_the_passage(tmp_path, catalogue):
    data = yaml.safe_load(CATALOGUE_FILE.read_text(encoding="utf-8"))
    xinban = next(s for s in data["services"] if s["id"] == "pingcan-xinban")
    xinban["documents"].append("退伍证")
    changed_file = tmp_path / "catalogue.yml"
    changed_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    changed = load_catalogue(changed_file)

    before = parse_entry(PINGCAN_MATERIALS, catalogue).text
    after = parse_entry(PINGCAN_MATERIALS, changed).text

    old_list = catalogue.service("pingcan-xinban").checklist()
    new_list = old_list.replace("（因职业病致残的）。", "（因职业病致残的）；\n5. 退伍证。")
    assert changed.service("pingcan-xinban").checklist() == new_list
    assert after == before.replace(old_list, new_list)
    assert "5. 退伍证。" in after and "退伍证" not in before


def _entry(tmp_path, body, **meta):
    header = {"id": "probe", "title": "试", "category": "评残", "region": "平湖",
              "source": "军人抚恤优待条例", "effective_date": "2024-10-01", "in_force": True, **meta}
    path = tmp_path / "probe.md"
    path.write_text(f"---\n{yaml.safe_dump(header, allow_unicode=True)}---\n{body}\n",
                    encoding="utf-8")
    return path


@pytest.mark.parametrize(("body", "meta", "problem"), [
    ("要带：\n{{checklist}}", {}, "needs `checklist: <service id>`"),
    ("要带：\n{{checklist}}", {"checklist": "pingcan-nosuch"}, "no service 'pingcan-nosuch'"),
    ("要带身份证。", {"checklist": "pingcan-xinban"}, "needs one {{checklist}} marker"),
    ("{{checklist}}\n{{checklist}}", {"checklist": "pingcan-xinban"}, "needs one {{checklist}}"),
    ("{{checklist}}\n{{documents}}", {"checklist": "pingcan-xinban"}, "unknown marker"),
    ("要带：\n{{documents}}", {}, "unknown marker"),
], ids=["marker-without-key", "unknown-service", "key-without-marker", "two-markers",
        "unknown-marker", "unknown-marker-without-key"])
def test_a_broken_checklist_is_a_build_error_naming_the_file(tmp_path, catalogue, body, meta,
                                                             problem):
    path = _entry(tmp_path, body, **meta)
    with pytest.raises(CorpusError, match=re.escape(f"{path}: ") + ".*" + re.escape(problem)):
        parse_entry(path, catalogue)


@pytest.mark.slow  # loads the embedding model and the built index under VETBOT_DATA_DIR
def test_the_knowledge_base_answers_pingcan_materials_with_the_catalogue_checklist(catalogue):
    from knowledge.service import get_knowledge_base

    hits = get_knowledge_base().search("评残要带什么材料")
    assert hits[0].passage.id == "pingcan-cailiao"
    assert catalogue.service("pingcan-xinban").checklist() in hits[0].passage.text
