"""knowledge.importer: laws from /work/shared/laws plus small documents generated here."""
from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import docx
import pytest

from knowledge.importer import (ImportErrorWithReason, article_number, load_repeals,
                                parse_document)

LAWS = Path(__file__).resolve().parents[2] / "shared" / "laws"
LAW_FILES = sorted(LAWS.glob("*.md")) if LAWS.is_dir() else []
needs_laws = pytest.mark.skipif(not LAW_FILES, reason=f"{LAWS} not available")
ARTICLE_LINE = re.compile(r"^第[零〇一二两三四五六七八九十百千]+条")


def law(name: str) -> Path:
    return next(p for p in LAW_FILES if p.name.startswith(name + "("))


# ---------------------------------------------------------------- the shared laws

@needs_laws
@pytest.mark.parametrize("path", LAW_FILES, ids=[p.stem for p in LAW_FILES])
def test_law_file_gives_one_passage_per_article(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    expected = sum(1 for line in lines if ARTICLE_LINE.match(line))
    doc = parse_document(path)

    articles = list(dict.fromkeys(p.article for p in doc.passages))
    assert len(articles) == expected > 0
    assert [article_number(a) for a in articles] == list(range(1, expected + 1))
    assert all(p.id == f"{doc.doc_id}#{p.article}" for p in doc.passages)  # no long articles here
    assert doc.date == re.search(r"\((\d{4}-\d\d-\d\d)\)", path.name).group(1)
    assert {p.date for p in doc.passages} == {doc.date}
    assert all(p.category == "法规" and p.source == doc.title for p in doc.passages)
    assert all(p.text and not ARTICLE_LINE.match(p.text) for p in doc.passages)

    headings = [re.sub(r"\s+", "", line[3:]) for line in lines if line.startswith("## 第")]
    chapters = [re.sub(r"\s+", "", c) for c in dict.fromkeys(p.chapter for p in doc.passages)]
    assert chapters == (headings or [""])


@needs_laws
def test_law_metadata():
    docs = {p.stem.split("(")[0]: parse_document(p) for p in LAW_FILES}
    assert len({d.doc_id for d in docs.values()}) == len(docs)

    baozhang = docs["退役军人保障法"]
    assert (baozhang.doc_id, baozhang.title) == ("退役军人保障法", "中华人民共和国退役军人保障法")
    first = baozhang.passages[0]
    assert first.id == "退役军人保障法#第一条" and first.chapter == "第一章 总则"
    assert first.region == "全国" and first.in_force
    assert docs["浙江省军人军属权益保障条例"].passages[0].region == "浙江"

    old, new = docs["退役士兵安置条例"], docs["退役军人安置条例"]
    assert not old.in_force and not any(p.in_force for p in old.passages)
    assert old.replaced_by == "退役军人安置条例"
    assert new.in_force and all(p.in_force for p in new.passages)
    # 第X节 headings are not article text; the article keeps its chapter
    before, after = (p for p in new.passages if p.article in ("第十七条", "第十八条"))
    assert before.chapter == "第二章 退役军官安置方式" and "第一节" not in before.text
    assert after.chapter == "第三章 退役军士和义务兵安置方式"


@needs_laws
def test_multi_paragraph_article_keeps_items():
    doc = parse_document(law("军人抚恤优待条例"))
    second = next(p for p in doc.passages if p.article == "第二条")
    assert second.text.splitlines() == [
        "本条例所称抚恤优待对象包括：", "（一）军人；", "（二）服现役和退出现役的残疾军人；",
        "（三）烈士遗属、因公牺牲军人遗属、病故军人遗属；", "（四）军人家属；", "（五）退役军人。"]


@needs_laws
def test_date_from_adoption_note_when_file_name_has_none(tmp_path):
    for name, expected in [("兵役法", "2021-08-20"),  # latest amendment
                           ("军人地位和权益保障法", "2021-06-10")]:  # adoption, not 施行
        copy = tmp_path / f"{name}.md"
        shutil.copy(law(name), copy)
        assert parse_document(copy).date == expected


# ---------------------------------------------------------------- other formats

LAW_TEXT = """平湖市退役军人优待办法

（2023年3月1日平湖市人民政府发布）

第一章　总　则

第一条　为了做好优待工作，制定本办法。

第二条　本办法适用于户籍在本市的退役军人。

退役军人家属参照执行。

第二章　优待内容

第三条　优待内容包括：
（一）交通；
（二）医疗。
"""


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_txt_with_articles(tmp_path, encoding):
    path = tmp_path / "平湖市退役军人优待办法.txt"
    path.write_bytes(LAW_TEXT.encode(encoding))
    doc = parse_document(path, repeals={})
    assert (doc.title, doc.doc_id, doc.date) == ("平湖市退役军人优待办法",) * 2 + ("2023-03-01",)
    assert [p.id for p in doc.passages] == [f"{doc.doc_id}#第{n}条" for n in "一二三"]
    assert [p.chapter for p in doc.passages] == ["第一章 总则"] * 2 + ["第二章 优待内容"]
    assert doc.passages[1].text == "本办法适用于户籍在本市的退役军人。\n退役军人家属参照执行。"
    assert doc.passages[2].text == "优待内容包括：\n（一）交通；\n（二）医疗。"
    assert doc.passages[0].region == "平湖"


def test_txt_without_articles_is_grouped_into_paragraph_passages(tmp_path):
    paragraphs = [f"第{n}段：退役军人可以到镇街服务站咨询办理。" + "说明" * 60 for n in range(6)]
    path = tmp_path / "嘉兴市办事指南(2024-05-06).txt"
    path.write_text("\n\n".join(paragraphs), encoding="gb18030")
    doc = parse_document(path, repeals={})
    assert doc.title == "嘉兴市办事指南" and doc.date == "2024-05-06"
    assert [p.id for p in doc.passages] == [f"嘉兴市办事指南#p{i}" for i in range(1, 4)]
    assert all(len(p.text) <= 400 and p.article == "" for p in doc.passages)
    assert "\n".join(p.text for p in doc.passages) == "\n".join(paragraphs)
    assert doc.passages[0].region == "嘉兴"


def test_generic_markdown_split_by_headings(tmp_path):
    path = tmp_path / "guide.md"
    path.write_text("# 优待证申领指南\n\n## 谁能办\n\n退役军人本人。\n\n## 到哪里办\n\n"
                    "- 镇（街道）退役军人服务站\n- 市退役军人事务局\n", encoding="utf-8")
    doc = parse_document(path, repeals={})
    assert doc.title == "优待证申领指南"
    assert [(p.id, p.chapter, p.text) for p in doc.passages] == [
        ("优待证申领指南#p1", "谁能办", "谁能办\n退役军人本人。"),
        ("优待证申领指南#p2", "到哪里办", "到哪里办\n镇（街道）退役军人服务站\n市退役军人事务局")]
    mtime = dt.date.fromtimestamp(path.stat().st_mtime).isoformat()
    assert doc.date == mtime


def test_docx_with_articles(tmp_path):
    document = docx.Document()
    document.add_heading("嘉兴市退役军人就业扶持办法", level=1)
    document.add_paragraph("2022年6月1日 嘉兴市人民政府公布")
    document.add_heading("第一章 总则", level=2)
    document.add_paragraph("第一条 为了促进退役军人就业，制定本办法。")
    document.add_paragraph("第二条 本办法由市退役军人事务局负责解释。")
    document.add_paragraph("有关部门应当配合。")
    path = tmp_path / "就业扶持.docx"
    document.save(path)
    doc = parse_document(path, repeals={})
    assert doc.title == "嘉兴市退役军人就业扶持办法" and doc.date == "2022-06-01"
    assert [p.article for p in doc.passages] == ["第一条", "第二条"]
    assert doc.passages[1].text == "本办法由市退役军人事务局负责解释。\n有关部门应当配合。"
    assert {p.chapter for p in doc.passages} == {"第一章 总则"} and doc.passages[0].region == "嘉兴"


def test_long_article_is_split_into_parts(tmp_path):
    items = [f"（{n}）" + "退役军人享受相应的优待和服务保障措施。" * 8 for n in "一二三四五六七八"]
    path = tmp_path / "长条文(2020-01-01).md"
    path.write_text("# 长条文\n\n第一条 本条内容较长：\n\n" + "\n\n".join(items) + "\n\n第二条 短条文。\n",
                    encoding="utf-8")
    passages = parse_document(path, repeals={}).passages
    assert [p.id for p in passages] == ["长条文#第一条", "长条文#第一条-2", "长条文#第一条-3", "长条文#第二条"]
    assert [p.article for p in passages] == ["第一条"] * 3 + ["第二条"]
    assert all(len(p.text) <= 600 for p in passages)
    assert "\n".join(p.text for p in passages[:3]) == "本条内容较长：\n" + "\n".join(items)


def test_repeals_file_and_future_repeal(tmp_path):
    assert load_repeals()["退役士兵安置条例"]["replaced_by"] == "退役军人安置条例"
    path = tmp_path / "中华人民共和国某某法.txt"
    path.write_text("第一条 内容。", encoding="utf-8")
    repeals = {"某某法": {"repealed_on": dt.date(2030, 1, 1), "replaced_by": "新法"}}
    assert parse_document(path, repeals=repeals, today=dt.date(2029, 12, 31)).in_force
    doc = parse_document(path, repeals=repeals, today=dt.date(2030, 1, 1))
    assert not doc.in_force and doc.replaced_by == "新法" and doc.doc_id == "某某法"


# ---------------------------------------------------------------- PDF

def write_pdf(path: Path, pages: list[list[str]]) -> None:
    """A minimal PDF: one Type0 font whose 2-byte codes are Unicode code points (ToUnicode map)."""
    chars = sorted({ord(c) for page in pages for line in page for c in line})
    bfchar = "".join(f"<{c:04X}> <{c:04X}>\n" for c in chars)
    cmap = ("/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            "/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n"
            "1 begincodespacerange <0000> <FFFF> endcodespacerange\n"
            f"{len(chars)} beginbfchar\n{bfchar}endbfchar\n"
            "endcmap CMapName currentdict /CMap defineresource pop end end")
    n_pages = len(pages)
    objects = ["<< /Type /Catalog /Pages 2 0 R >>",
               "<< /Type /Pages /Kids [%s] /Count %d >>"
               % (" ".join(f"{6 + 2 * i} 0 R" for i in range(n_pages)), n_pages),
               "<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /Identity-H "
               "/DescendantFonts [4 0 R] /ToUnicode 5 0 R >>",
               "<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light /DW 1000 "
               "/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> >>",
               cmap]
    for i, page in enumerate(pages):
        content = "BT /F1 12 Tf 40 800 Td " + " ".join(
            "<%s> Tj 0 -18 Td" % "".join(f"{ord(c):04X}" for c in line) for line in page) + " ET"
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
                       f"/Resources << /Font << /F1 3 0 R >> >> /Contents {7 + 2 * i} 0 R >>")
        objects.append(content)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        data = body.encode("latin-1")
        if not body.startswith("<<"):  # a stream
            data = b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"
        out += b"%d 0 obj\n" % number + data + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))


def test_pdf_rejoins_lines_broken_mid_sentence(tmp_path):
    path = tmp_path / "优抚政策(2021-03-04).pdf"
    write_pdf(path, [
        ["平湖市优抚对象医疗保障办法", "第一条 为了保障优抚对象的医疗待遇，根据国家和浙江省有关规定，",
         "结合本市实际，制定本办法。", "第二条 本办法所称优抚对象，是指享受国家定期抚恤补助的人员，",
         "1"],
        ["包括残疾军人和烈士遗属（ABC 2021）。", "2"],
    ])
    doc = parse_document(path, repeals={})
    assert doc.title == "平湖市优抚对象医疗保障办法" and doc.date == "2021-03-04"
    assert [p.text for p in doc.passages] == [
        "为了保障优抚对象的医疗待遇，根据国家和浙江省有关规定，结合本市实际，制定本办法。",
        "本办法所称优抚对象，是指享受国家定期抚恤补助的人员，包括残疾军人和烈士遗属（ABC 2021）。"]


# ---------------------------------------------------------------- errors and numerals

@pytest.mark.parametrize("name, content, message", [
    ("表格.xls", b"x", "不支持的文件类型：.xls（支持 .md .txt .docx .pdf）"),
    ("旧文件.doc", b"x", "请先另存为 .docx"),
    ("空白.txt", "\n  \n".encode(), "文件里没有找到可导入的正文"),
    ("坏的.docx", b"not a zip", "无法读取 Word 文件"),
    ("坏的.pdf", b"%PDF-1.4 garbage", "PDF"),
])
def test_bad_input_raises_reason(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportErrorWithReason, match=re.escape(message)):
        parse_document(path)


def test_missing_file(tmp_path):
    with pytest.raises(ImportErrorWithReason, match="找不到文件"):
        parse_document(tmp_path / "没有.md")


@pytest.mark.parametrize("label, number", [
    ("第一条", 1), ("第十条", 10), ("第十五条", 15), ("第二十条", 20), ("第一百条", 100),
    ("第一百零五条", 105), ("第一百一十条", 110), ("第一百二十三条", 123), ("第二十条之一", 20),
    ("第105条", 105), ("一〇五", 105), ("第二章", 2),
])
def test_article_number(label, number):
    assert article_number(label) == number


def test_article_number_rejects_non_numerals():
    with pytest.raises(ValueError):
        article_number("附则")
