"""The shipped catalogue and locations, and the loader's validation."""
from __future__ import annotations

import re

import pytest
import yaml

from booking.catalogue import (CATALOGUE_FILE, LOCATIONS_FILE, PLACEHOLDER, CatalogueError,
                               load_catalogue)
from knowledge.corpus import load_corpus

REQUIRED_SERVICES = ["评残（新办）", "评残（补办）", "评残（调整等级）", "带病回乡退伍军人认定",
                     "参战参试(参核)人员身份认定", "优待证申领", "优待证补办", "一次性经济补助申领",
                     "伤残抚恤关系转移", "退役报到（一件事联办）", "养老保险接续", "医疗保险接续",
                     "困难帮扶申请", "义务兵家庭优待金"]
TOWNS = ["当湖", "钟埭", "曹桥", "乍浦", "新埭", "新仓", "独山港", "广陈", "林埭"]


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def test_shipped_catalogue_has_the_issue_services(catalogue):
    assert [s.name for s in catalogue.services] == REQUIRED_SERVICES


def test_shipped_locations_are_the_centre_and_nine_stations(catalogue):
    assert catalogue.centre.name == "平湖市退役军人服务中心"
    stations = [loc for loc in catalogue.locations if loc.level == "镇(街道)"]
    assert [loc.places[1] for loc in stations] == TOWNS


def test_shipped_contacts_are_placeholders_marked_unconfirmed(catalogue):
    # no invented official-looking numbers: every phone is the placeholder until the bureau confirms
    for loc in catalogue.locations:
        assert loc.confirmed is False
        assert loc.phone == PLACEHOLDER
        assert not re.search(r"\d{5,}", loc.address + loc.phone)


def test_daipao_services_are_the_three_the_bureau_runs_for_veterans(catalogue):
    assert sorted(s.group for s in catalogue.services if s.daipao) == [
        "参战参试认定", "带病回乡认定", "评残", "评残", "评残"]


def test_every_corpus_reference_exists():
    corpus_ids = {passage.id for passage in load_corpus()}
    for service in load_catalogue().services:
        assert set(service.corpus) <= corpus_ids, service.id


@pytest.mark.parametrize(("said", "expected"), [
    ("我想预约评残", ["pingcan-xinban", "pingcan-buban", "pingcan-tiaozheng"]),  # unclear: buttons
    ("退伍后评残", ["pingcan-buban"]),
    ("我的伤情加重了想调级", ["pingcan-tiaozheng"]),
    ("优待证", ["youdaizheng-shenling", "youdaizheng-buban"]),
    ("我的优待证丢了", ["youdaizheng-buban"]),  # the longer term wins over the group
    ("退役后评残和医保", ["pingcan-buban"]),  # the longest term wins, wherever its service is listed
    ("办带病回乡认定", ["daibing-huixiang"]),
    ("参核认定", ["canzhan-rending"]),
    ("医保接续", ["yiliao-jiexu"]),
    ("保险接续", ["yanglao-jiexu", "yiliao-jiexu"]),
    ("家里困难想申请帮扶", ["kunnan-bangfu"]),
    ("退役报到", ["tuiyi-baodao"]),
    ("今天天气怎么样", []),
])
def test_find_service(catalogue, said, expected):
    assert [s.id for s in catalogue.find_service(said)] == expected


@pytest.mark.parametrize(("said", "expected"), [
    ("我住乍浦", "zhapu"),
    ("乍浦镇", "zhapu"),
    ("独山港镇渡船桥村", "dushangang"),
    ("渡船桥村", "dushangang"),  # a village points to its town's station
    ("钟南村", "zhongdai"),
    ("曹桥街道", "caoqiao"),
    ("市区", "centre"),
])
def test_nearest_location(catalogue, said, expected):
    assert catalogue.nearest_location(said).id == expected


def test_no_place_named_gives_none(catalogue):
    assert catalogue.nearest_location("我想约明天") is None


def test_locations_for_follow_levels(catalogue):
    assert [loc.id for loc in catalogue.locations_for(catalogue.service("tuiyi-baodao"))] == ["centre"]
    assert len(catalogue.locations_for(catalogue.service("pingcan-xinban"))) == 10
    assert catalogue.service("pingcan-xinban").village_station is True
    assert catalogue.service("youdaizheng-buban").village_station is False


def test_capacity_default_and_override(catalogue):
    assert catalogue.centre.capacity_per_slot == 4  # set on the centre
    assert catalogue.location("zhapu").capacity_per_slot == 2  # defaults.capacity_per_slot


def test_checklist_reads_documents_in_order(catalogue):
    assert catalogue.service("tuiyi-baodao").checklist() == (
        "1. 部队开具的退役证明；\n2. 本人身份证。\n户口簿、照片、介绍信等其他材料各地要求不同，以通知为准。")


# --- validation: each broken file names the entry and the field ---------------------------------

def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _shipped(path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _load_with(tmp_path, services=None, locations=None):
    cat = _write(tmp_path, "catalogue.yml", services or _shipped(CATALOGUE_FILE))
    loc = _write(tmp_path, "locations.yml", locations or _shipped(LOCATIONS_FILE))
    return load_catalogue(cat, loc)


def test_shipped_files_load_from_a_copy(tmp_path):
    assert len(_load_with(tmp_path).services) == len(REQUIRED_SERVICES)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("documents", [], "catalogue.yml: pingcan-buban: documents 应是非空的文字列表"),
    ("documents", None, "catalogue.yml: pingcan-buban: documents 应是非空的文字列表"),
    ("levels", ["省"], "catalogue.yml: pingcan-buban: levels 只能是"),
    ("daipao", "yes", "catalogue.yml: pingcan-buban: daipao 应是 true 或 false"),
    ("eligible", "", "catalogue.yml: pingcan-buban: eligible 缺少或不是文字"),
    ("synonyms", ["医保"], "catalogue.yml: yiliao-jiexu: synonyms “医保”已被 pingcan-buban 使用"),
    ("id", "pingcan-xinban", "catalogue.yml: pingcan-xinban: id 重复"),
    ("id", "评残", "catalogue.yml: 第2条: id 应是"),
])
def test_bad_service_entry_is_named(tmp_path, field, value, message):
    data = _shipped(CATALOGUE_FILE)
    data["services"][1][field] = value  # pingcan-buban
    with pytest.raises(CatalogueError, match=re.escape(message)):
        _load_with(tmp_path, services=data)


def test_missing_field_is_named(tmp_path):
    data = _shipped(CATALOGUE_FILE)
    del data["services"][3]["duration"]
    with pytest.raises(CatalogueError, match=re.escape("daibing-huixiang: duration 缺少或不是文字")):
        _load_with(tmp_path, services=data)


def test_group_name_used_as_another_services_synonym(tmp_path):
    data = _shipped(CATALOGUE_FILE)
    data["services"][3]["synonyms"].append("评残")  # 带病回乡 must not answer to the 评残 group
    with pytest.raises(CatalogueError, match="组名“评残”与 daibing-huixiang 的说法重复"):
        _load_with(tmp_path, services=data)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("capacity_per_slot", 0, "locations.yml: zhapu: capacity_per_slot 应是正整数"),
    ("capacity_per_slot", "5", "locations.yml: zhapu: capacity_per_slot 应是正整数"),
    ("hours", {"morning": ["08:30", "11:30"], "afternoon": ["13:30"]},
     "locations.yml: zhapu: hours.afternoon 应是"),
    ("hours", {"morning": ["08:45", "11:30"], "afternoon": ["13:30", "17:00"]},
     "locations.yml: zhapu: hours.morning 应是开始早于结束的整点或半点"),
    ("hours", {"morning": ["08:30", "13:00"], "afternoon": ["13:30", "17:00"]},
     "locations.yml: zhapu: hours 上午应在12点前结束"),
    ("level", "村(社区)", "locations.yml: zhapu: level 只能是"),
    ("confirmed", True, "locations.yml: zhapu: confirmed 为 true，但地址或电话还是“待确认”"),
])
def test_bad_location_entry_is_named(tmp_path, field, value, message):
    data = _shipped(LOCATIONS_FILE)
    data["locations"][4][field] = value  # zhapu
    with pytest.raises(CatalogueError, match=re.escape(message)):
        _load_with(tmp_path, locations=data)


def test_broken_yaml_names_the_file(tmp_path):
    (tmp_path / "catalogue.yml").write_text("services: [\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match="catalogue.yml: 读不出来"):
        load_catalogue(tmp_path / "catalogue.yml", LOCATIONS_FILE)
