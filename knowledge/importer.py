"""Turn a policy document (.md .txt .docx .pdf) into citable passages.

Documents with articles (第一条 …) give one passage per article, with the enclosing chapter;
other documents are cut into passages of a few paragraphs (ids #p1, #p2 …).
Whether a document is still in force comes from `repeals.yml` next to this file.

    doc = parse_document(Path("退役军人保障法(2020-11-11).md"))
    doc.doc_id, doc.passages[0].id   # "退役军人保障法", "退役军人保障法#第一条"
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import yaml

from knowledge.passage import Passage

SUPPORTED_SUFFIXES = (".md", ".txt", ".docx", ".pdf")
REPEALS_PATH = Path(__file__).with_name("repeals.yml")
CATEGORY = "法规"
ARTICLE_MAX_CHARS = 600  # longer articles are split into parts #第X条-2, #第X条-3 …
PASSAGE_MAX_CHARS = 400  # paragraph groups of documents without articles
INFO_END = "<!-- INFO END -->"

_NUM = r"[零〇一二两三四五六七八九十百千\d]+"
_ARTICLE = re.compile(rf"^(第({_NUM})条(?:之[一二三四五六七八九十]+)?)([\s\u3000]*)(.*)$", re.S)
_CHAPTER = re.compile(rf"^第({_NUM})章(?:[\s\u3000]+|$)(.*)$")
_SECTION = re.compile(rf"^第{_NUM}[节编](?:[\s\u3000]|$)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*$")
# A line starting like this always opens a new paragraph (articles, items, list entries).
_BLOCK_START = re.compile(
    rf"^(第{_NUM}[条章节编]|[（(][一二三四五六七八九十\d]+[)）]|[一二三四五六七八九十]+、|\d+[.、．]\D|[-*+>]\s|#)"
)
_SENTENCE_END = tuple("。！？；：…”’」』）)!?;:")
_PAGE_NUMBER = re.compile(r"^[-—–\s]*(第\s*)?\d+(\s*页)?(\s*[/共]\s*\d+\s*页?)?[-—–\s]*$")
_FILE_DATE = re.compile(r"[(（]\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*[)）]")
_CN_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
           "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}


class ImportErrorWithReason(Exception):
    """A document cannot be imported; str(error) is a Chinese message for the user."""


@dataclass
class ParsedDocument:
    doc_id: str
    title: str
    date: str
    in_force: bool
    source_path: str
    passages: list[Passage] = field(default_factory=list)
    replaced_by: str = ""


# ---------------------------------------------------------------- numbers, ids, metadata

def article_number(label: str) -> int:
    """第一百零五条 → 105; also accepts 一百零五, 第105条, 第二十条之一 (→ 20)."""
    m = re.fullmatch(rf"\s*第?({_NUM})(?:条|章|节)?(?:之.*)?\s*", label)
    if not m:
        raise ValueError(f"不是条文编号：{label!r}")
    text = m.group(1)
    if text.isdigit():
        return int(text)
    if not any(ch in _UNITS for ch in text):  # 一〇五 written digit by digit
        return int("".join(str(_DIGITS[ch]) for ch in text))
    total, digit = 0, 0
    for ch in text:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        else:
            total += (digit or 1) * _UNITS[ch]  # 十五: a bare 十 means 一十
            digit = 0
    return total + digit


def make_doc_id(title: str) -> str:
    """Stable slug: the title without 中华人民共和国, 《》, spaces and path characters."""
    slug = re.sub(r"^中华人民共和国", "", title.strip())
    slug = re.sub(r"[《》\s#/\\?%*:|\"<>]", "", slug)
    return slug or "document"


def region_of(title: str) -> str:
    for place, region in (("平湖", "平湖"), ("嘉兴", "嘉兴"), ("浙江", "浙江")):
        if place in title:
            return region
    return "全国"


def load_repeals(path: Path = REPEALS_PATH) -> dict:
    """{title or doc_id: {repealed_on, replaced_by, note}} from repeals.yml."""
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ImportErrorWithReason(f"废止清单 {path.name} 格式有误：{exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ImportErrorWithReason(f"废止清单 {path.name} 应当是“文件标题: {{repealed_on: …}}”的映射")
    return data


def _repeal_entry(title: str, doc_id: str, repeals: Mapping) -> dict | None:
    for key, entry in repeals.items():
        if str(key) in (title, doc_id) or make_doc_id(str(key)) == doc_id:
            return entry
    return None


def in_force_on(title: str, doc_id: str, today: dt.date, repeals: Mapping | None = None) -> bool:
    """Whether a document is in force on `today` according to repeals.yml."""
    return _in_force(_repeal_entry(title, doc_id, load_repeals() if repeals is None else repeals), today)


def _in_force(entry: dict | None, today: dt.date) -> bool:
    if entry is None:
        return True
    repealed_on = entry.get("repealed_on")
    if repealed_on is None:
        return False
    if not isinstance(repealed_on, dt.date):
        repealed_on = dt.date.fromisoformat(str(repealed_on))
    return repealed_on > today  # a repeal recorded in advance takes effect on its date


def _iso(y: str, m: str, d: str) -> str | None:
    try:
        return dt.date(int(y), int(m), int(d)).isoformat()
    except ValueError:
        return None


def _note_date(note: list[str]) -> str | None:
    """Latest adoption / amendment date in the note; 施行 (entry into force) lines only as fallback."""
    main, effective = [], []
    for line in note:
        for m in _CN_DATE.finditer(line):
            day = _iso(*m.groups())
            if day:
                (effective if "施行" in line else main).append(day)
    dates = main or effective
    return max(dates) if dates else None


# ---------------------------------------------------------------- reading files into lines

def _decode(raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportErrorWithReason("无法识别文本文件的编码（支持 UTF-8 和 GB18030/GBK）")


def _read_docx(path: Path) -> list[str]:
    import docx  # python-docx
    try:
        document = docx.Document(str(path))
    except Exception as exc:  # corrupt zip, not a Word file, …
        raise ImportErrorWithReason(f"无法读取 Word 文件：{path.name}（{exc}）") from exc
    lines: list[str] = []
    for block in document.iter_inner_content():
        if hasattr(block, "rows"):  # a table: one line per row
            for row in block.rows:
                cells = list(dict.fromkeys(c.text.strip() for c in row.cells if c.text.strip()))
                lines += ["　".join(cells), ""]
            continue
        text = block.text.strip()
        style = (block.style.name if block.style is not None else "") or ""
        level = 1 if style == "Title" else re.search(r"(?:Heading|标题)\s*(\d)", style)
        if text and level:
            lines.append("#" * (level if isinstance(level, int) else int(level.group(1))) + " " + text)
        else:
            lines += text.split("\n")
        lines.append("")  # Word paragraphs never run into each other
    return lines


def _read_pdf(path: Path) -> list[str]:
    from pypdf import PdfReader
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ImportErrorWithReason(f"PDF 文件有密码保护：{path.name}")
        pages = [page.extract_text() or "" for page in reader.pages]
    except ImportErrorWithReason:
        raise
    except Exception as exc:
        raise ImportErrorWithReason(f"无法读取 PDF 文件：{path.name}（{exc}）") from exc
    if not any(p.strip() for p in pages):
        raise ImportErrorWithReason("PDF 里没有可提取的文字（可能是扫描件，需要先做文字识别）")
    lines = [line for page in pages for line in page.splitlines()]
    return [line for line in lines if not _PAGE_NUMBER.match(line) or not line.strip()]


# ---------------------------------------------------------------- lines → blocks

@dataclass
class _Block:
    kind: str  # "heading" | "para" | "marker"
    text: str
    level: int = 0


def _join(left: str, right: str) -> str:
    if left[-1:].isascii() and left[-1:].isalnum() and right[:1].isascii() and right[:1].isalnum():
        return left + " " + right
    return left + right


def _blocks(lines: list[str], markdown: bool) -> list[_Block]:
    """Group lines into paragraphs. A line is joined to the previous one (a PDF or hard-wrapped
    text breaking mid-sentence) when the previous line is about full width, does not end a
    sentence, and the new line does not start an article, item or heading."""
    widths = sorted(len(s.strip()) for s in lines if len(s.strip()) >= 10)
    full_width = widths[int(len(widths) * 0.9)] * 0.8 if widths else math.inf
    blocks: list[_Block] = []
    open_para = False  # the last block is a paragraph that may continue
    last_line = ""
    for raw in lines:
        line = raw.strip()
        if markdown and line == INFO_END:
            blocks.append(_Block("marker", line))
            open_para = False
            continue
        if markdown:
            line = re.sub(r"<!--.*?-->", "", line).strip()
        if not line:
            open_para = False
            continue
        heading = _HEADING.match(line) if markdown else None
        if heading:
            blocks.append(_Block("heading", heading.group(2).strip(), len(heading.group(1))))
            open_para = False
            continue
        if markdown:
            line = re.sub(r"^(?:[-*+]\s+|>\s*)", "", line).replace("**", "").replace("__", "")
        if (open_para and len(last_line) >= full_width and not last_line.endswith(_SENTENCE_END)
                and not _BLOCK_START.match(raw.strip())):
            blocks[-1].text = _join(blocks[-1].text, line)
        else:
            blocks.append(_Block("para", line))
        open_para, last_line = True, line
    return blocks


def _strip_front_matter(lines: list[str]) -> tuple[list[str], str]:
    if not lines or lines[0].strip() != "---":
        return lines, ""
    for i, line in enumerate(lines[1:], 1):
        if line.strip() == "---":
            meta = yaml.safe_load("\n".join(lines[1:i])) or {}
            title = str(meta.get("title", "")) if isinstance(meta, dict) else ""
            return lines[i + 1:], title
    return lines, ""


def _looks_like_title(text: str) -> bool:
    return len(text) <= 50 and not text.endswith(_SENTENCE_END) and not _BLOCK_START.match(text)


# ---------------------------------------------------------------- blocks → passages

def _split_long(text: str, limit: int) -> list[str]:
    if len(text) <= limit:
        return [text]
    sentences = [s for s in re.split(r"(?<=[。！？；!?;])", text) if s]
    pieces: list[str] = []
    for sentence in sentences:
        pieces += [sentence[i:i + limit] for i in range(0, len(sentence), limit)]
    return _chunk(pieces, limit, sep="")


def _chunk(paragraphs: list[str], limit: int, sep: str = "\n") -> list[str]:
    """Pack paragraphs into consecutive groups of at most `limit` chars, of similar size."""
    pieces = [p for para in paragraphs for p in _split_long(para, limit)]
    total = sum(len(p) + len(sep) for p in pieces)
    target = total / max(1, math.ceil(total / limit))
    groups: list[list[str]] = []
    size = 0
    for piece in pieces:
        if not groups or size >= target or size + len(sep) + len(piece) > limit:
            groups.append([])
            size = 0
        groups[-1].append(piece)
        size += len(piece) + len(sep)
    return [sep.join(g) for g in groups]


def _articles(body: list[_Block]) -> list[tuple[str, str, list[str]]]:
    """[(label, chapter, paragraphs)] — label like 第五条, paragraphs without the label."""
    articles: list[tuple[str, str, list[str]]] = []
    chapter, last_number = "", 0
    for block in body:
        text = block.text
        chapter_match = _CHAPTER.match(text)
        if chapter_match and (block.kind == "heading" or len(text) <= 30):
            name = re.sub(r"[\s\u3000]+", "", chapter_match.group(2))
            chapter = f"第{chapter_match.group(1)}章 {name}".strip()
            continue
        if block.kind == "heading" or (_SECTION.match(text) and len(text) <= 30):
            continue  # 第X节 and other headings are not article text
        article = _ARTICLE.match(text)
        if article:
            label, number_text, space, rest = article.groups()
            number = article_number(number_text)
            if space or number == last_number + 1:
                articles.append((label, chapter, [rest.strip()] if rest.strip() else []))
                last_number = number
                continue
        if articles:
            articles[-1][2].append(text)
    return articles


def _article_passages(body: list[_Block], make) -> list[Passage]:
    passages, seen = [], {}
    for label, chapter, paragraphs in _articles(body):
        seen[label] = seen.get(label, 0) + 1
        anchor = label if seen[label] == 1 else f"{label}/{seen[label]}"  # repeated numbering
        for part, text in enumerate(_chunk(paragraphs, ARTICLE_MAX_CHARS) if paragraphs else [], 1):
            suffix = "" if part == 1 else f"-{part}"
            passages.append(make(f"{anchor}{suffix}", label, chapter, text))
    return passages


def _paragraph_passages(body: list[_Block], make) -> list[Passage]:
    sections: list[tuple[str, list[str]]] = [("", [])]
    for block in body:
        if block.kind == "heading":
            sections.append((block.text, [block.text]))
        elif block.kind == "para":
            sections[-1][1].append(block.text)
    passages = []
    for heading, paragraphs in sections:
        for text in _chunk(paragraphs, PASSAGE_MAX_CHARS):
            passages.append(make(f"p{len(passages) + 1}", "", heading, text))
    return passages


# ---------------------------------------------------------------- entry point

def parse_document(path: Path, repeals: Mapping | None = None,
                   today: dt.date | None = None) -> ParsedDocument:
    """Parse one document. `repeals` defaults to knowledge/repeals.yml; `today` to the current date."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        hint = "，请先另存为 .docx" if suffix in (".doc", ".wps") else ""
        raise ImportErrorWithReason(
            f"不支持的文件类型：{suffix or '（无扩展名）'}（支持 {' '.join(SUPPORTED_SUFFIXES)}）{hint}")
    if not path.is_file():
        raise ImportErrorWithReason(f"找不到文件：{path}")

    meta_title = ""
    if suffix == ".docx":
        lines = _read_docx(path)
    elif suffix == ".pdf":
        lines = _read_pdf(path)
    else:
        try:
            lines = _decode(path.read_bytes()).splitlines()
        except OSError as exc:
            raise ImportErrorWithReason(f"无法读取文件：{path.name}（{exc}）") from exc
        if suffix == ".md":
            lines, meta_title = _strip_front_matter(lines)
    blocks = _blocks(lines, markdown=suffix in (".md", ".docx"))

    # Title: front matter, else a leading heading or short first paragraph, else the file name.
    stem_title = _FILE_DATE.sub("", path.stem).strip()
    title = meta_title
    if not title and blocks and (blocks[0].kind == "heading" or _looks_like_title(blocks[0].text)):
        title = blocks.pop(0).text
    title = re.sub(r"[《》]", "", title or stem_title).strip()

    # Adoption note: before <!-- INFO END -->, else (for laws) the paragraphs before the first article.
    kinds = [b.kind for b in blocks]
    if "marker" in kinds:
        cut = kinds.index("marker")
        note, body = [b.text for b in blocks[:cut]], blocks[cut + 1:]
    else:
        note, body = [], blocks
    starts = [i for i, b in enumerate(body) if b.kind == "para" and _ARTICLE.match(b.text)]
    has_articles = any(article_number(_ARTICLE.match(body[i].text).group(2)) == 1 for i in starts)
    if has_articles and "marker" not in kinds:
        note = [b.text for b in body[:starts[0]]]

    file_date = _FILE_DATE.search(path.name)
    date = ((_iso(*file_date.groups()) if file_date else None) or _note_date(note)
            or dt.date.fromtimestamp(path.stat().st_mtime).isoformat())

    doc_id = make_doc_id(title)
    entry = _repeal_entry(title, doc_id, load_repeals() if repeals is None else repeals)
    in_force = _in_force(entry, today or dt.date.today())
    region = region_of(title)

    def make(anchor: str, article: str, chapter: str, text: str) -> Passage:
        return Passage(id=f"{doc_id}#{anchor}", doc_id=doc_id, title=title, source=title,
                       article=article, date=date, in_force=in_force, region=region,
                       category=CATEGORY, text=text, chapter=chapter)

    passages = _article_passages(body, make) if has_articles else _paragraph_passages(body, make)
    if not passages:
        raise ImportErrorWithReason(f"文件里没有找到可导入的正文：{path.name}")
    return ParsedDocument(doc_id=doc_id, title=title, date=date, in_force=in_force,
                          source_path=str(path), passages=passages,
                          replaced_by=str((entry or {}).get("replaced_by") or ""))
