"""Where a service is handled and how long it takes, said from the catalogue (the same data the
booking uses), for 评残去哪里办 / 多久能办好 asked in the policy chat."""
from __future__ import annotations

from booking.catalogue import Catalogue, Service

CITY, TOWN, VILLAGE = "市", "镇(街道)", "村(社区)"
SOURCE_NOTE = "（办理地点和时间依据本市代办服务事项清单，以市退役军人事务局公布为准）"


def _label(services: list[Service]) -> str:
    groups = {s.group for s in services}
    return groups.pop() if len(services) > 1 and len(groups) == 1 else "、".join(s.name for s in services)


def where_to_apply(catalogue: Catalogue, services: list[Service]) -> str:
    levels = {level for s in services for level in s.levels}
    places = []
    if CITY in levels:
        places.append(catalogue.centre.name)
    if TOWN in levels:
        places.append("户口所在镇（街道）的退役军人服务站")
    text = f"{_label(services)}可以到{'或'.join(places)}办理"
    if VILLAGE in levels:
        text += "，也可以先到所在村（社区）退役军人服务站提出"
    text += "。"
    if all(s.daipao for s in services):
        text += "这件事工作人员可以帮您代办（代跑），约好时间、带齐材料去一次就行。"
    return text + SOURCE_NOTE


def how_long(services: list[Service]) -> str:
    """One group (评残 新办 / 补办 / 调整等级) takes about as long: its first service says it."""
    if len({s.group for s in services}) == 1:
        return f"{_label(services)}：{services[0].duration}{SOURCE_NOTE}"
    return "\n".join(f"{s.name}：{s.duration}" for s in services) + SOURCE_NOTE
