"""A question about another place's rules (上海的优待金多少 / 北京退伍兵补助): the knowledge base holds
national, Zhejiang and Pinghu rules only, so the bot should say so rather than answer with ours."""
from __future__ import annotations

import re
from functools import lru_cache

# Where the rules we hold apply: a question naming one of these is about them.
HOME = ("平湖", "嘉兴", "浙江", "全国", "国家")
# Provinces and regions, the big cities, the rest of Zhejiang and of Jiaxing, and the countries
# veterans compare with. Only names that are rarely part of other words (not 中山, 南湖, 长安 …).
OTHER_PLACES = (
    # provinces, municipalities, autonomous regions
    "北京", "上海", "天津", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "安徽", "福建", "江西",
    "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西", "甘肃", "青海", "内蒙古",
    "广西", "西藏", "宁夏", "新疆", "香港", "澳门", "台湾",
    # big cities elsewhere
    "南京", "苏州", "无锡", "常州", "南通", "合肥", "福州", "厦门", "南昌", "济南", "青岛", "郑州", "武汉",
    "长沙", "广州", "深圳", "成都", "贵阳", "昆明", "西安", "兰州", "沈阳", "大连", "长春", "哈尔滨",
    "石家庄", "太原", "南宁", "海口", "拉萨", "银川", "乌鲁木齐", "西宁", "呼和浩特",
    # Zhejiang outside Jiaxing, and Jiaxing outside Pinghu
    "杭州", "宁波", "温州", "绍兴", "湖州", "金华", "衢州", "舟山", "台州", "丽水", "义乌",
    "嘉善", "海宁", "海盐", "桐乡", "秀洲", "南湖区",
)
# Abroad: no rule of ours, national or local, answers for them.
ABROAD = ("美国", "日本", "韩国", "英国", "法国", "德国", "俄罗斯", "新加坡", "澳大利亚", "加拿大", "国外")
OTHER_PLACES += ABROAD
# 上海路, 北京街: a street at home, not another place. 在新疆当兵 / 在新疆参加过核试验: where one
# served, not whose rules. 户口迁到上海: moving away, which our rules cover (the transfer).
_NOT_A_PLACE_AFTER = re.compile("^(路|街|大道|巷|弄|中路|东路|西路|南路|北路|.{0,3}(当兵|当过兵|服役|服过役|参军|入伍|部队|参加))")
_NOT_A_PLACE_BEFORE = re.compile("(迁到|迁往|迁去|迁回|搬到|搬去|转到|转去|移居)$")
_PLACES = re.compile("|".join(sorted(OTHER_PLACES, key=len, reverse=True)))  # longest first


@lru_cache(maxsize=1)
def _home_places() -> tuple[str, ...]:
    """平湖, 嘉兴, 浙江 and the towns and villages of Pinghu the booking knows (booking/locations.yml)."""
    from booking.catalogue import load_catalogue

    towns = {place for location in load_catalogue().locations for place in location.places}
    return HOME + tuple(sorted(towns))


def other_place(question: str) -> str | None:
    """The other place whose rules the question asks about (first named), or None when it names
    none, or also names home (平湖, 嘉兴, 浙江, a Pinghu town: then our rules may well apply)."""
    if any(home in question for home in _home_places()):
        return None
    for match in _PLACES.finditer(question):
        if not (_NOT_A_PLACE_AFTER.match(question[match.end():])
                or _NOT_A_PLACE_BEFORE.search(question[:match.start()])):
            return match.group()
    return None
