"""Small synthetic law files in the Markdown layout of ../shared/laws (what knowledge/importer.py
reads: a title heading, the adoption note, <!-- INFO END -->, chapters as ## headings, one paragraph
per article), so the tests that import laws never depend on that directory. The wording is made up
for the tests; only the titles matter to the product (repeals.yml names 退役士兵安置条例)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Law:
    title: str
    date: str  # YYYY-MM-DD, also in the file name as the shared laws have it
    chapters: tuple[tuple[str, tuple[str, ...]], ...]  # (chapter heading, article texts)

    @property
    def doc_id(self) -> str:
        return self.title.removeprefix("中华人民共和国")

    @property
    def articles(self) -> int:
        return sum(len(texts) for _, texts in self.chapters)


HONOURS = Law(
    title="中华人民共和国烈士纪念示例法",
    date="2019-05-20",
    chapters=(
        ("第一章 总则", (
            "为了纪念烈士，弘扬烈士精神，制定本示例法。",
            "烈士的姓名、肖像、名誉和荣誉受法律保护，任何组织和个人不得歪曲、丑化、亵渎。",
        )),
        ("第二章 纪念设施", (
            "县级以上人民政府负责烈士纪念设施的修缮和管理，纪念设施免费向公众开放。",
            "每年九月三十日为烈士纪念日，各地举行公祭活动。",
            "烈士遗属可以向当地退役军人事务部门申请祭扫服务。",
        )),
    ),
)

REPEALED = Law(  # knowledge/repeals.yml marks this title repealed since 2024-09-01
    title="退役士兵安置条例",
    date="2011-10-29",
    chapters=(
        ("第一章 总则", (
            "为了做好退役士兵安置工作，制定本条例示例文本。",
            "退役士兵安置工作由县级以上人民政府退役士兵安置工作主管部门负责。",
        )),
        ("第二章 安置方式", (
            "退役士兵可以选择自主就业，由部队发给一次性退役金。",
        )),
    ),
)

GLORY = Law(
    title="平湖市光荣牌悬挂示例办法",
    date="2023-03-01",
    chapters=(
        ("第一章 悬挂", (
            "光荣牌由镇街道退役军人服务站的工作人员上门为军人家庭悬挂。",
            "光荣牌损坏的，军人家庭可以向服务站申请免费更换。",
        )),
    ),
)


def write_law(directory: Path, law: Law) -> Path:
    lines = [f"# {law.title}", "", f"{law.date.replace('-', '年', 1).replace('-', '月')}日 通过（测试用示例文本）",
             "", "<!-- INFO END -->", ""]
    number = 0
    for chapter, texts in law.chapters:
        lines += [f"## {chapter}", ""]
        for text in texts:
            number += 1
            lines += [f"第{_chinese(number)}条 {text}", ""]
    path = directory / f"{law.doc_id}({law.date}).md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _chinese(number: int) -> str:
    digits = "零一二三四五六七八九"
    if number < 10:
        return digits[number]
    tens, ones = divmod(number, 10)
    return f"{digits[tens] if tens > 1 else ''}十{digits[ones] if ones else ''}"
