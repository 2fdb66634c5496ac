"""Load the project-written entries under knowledge/corpus/ (Markdown with YAML front matter)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from knowledge.passage import Passage
from vetbot.config import PROJECT_ROOT

CORPUS_DIR = PROJECT_ROOT / "knowledge" / "corpus"
REQUIRED = ("id", "title", "category", "region", "source", "effective_date", "in_force")


class CorpusError(ValueError):
    pass


def parse_entry(path: Path) -> Passage:
    raw = path.read_text(encoding="utf-8")
    if not raw.startswith("---"):
        raise CorpusError(f"{path}: missing front matter")
    _, header, body = raw.split("---", 2)
    meta = yaml.safe_load(header) or {}
    missing = [key for key in REQUIRED if meta.get(key) in (None, "")]
    if missing:
        raise CorpusError(f"{path}: missing {', '.join(missing)}")
    if str(meta["id"]) != path.stem:
        raise CorpusError(f"{path}: id {meta['id']!r} differs from the file name")
    date = meta["effective_date"]
    if isinstance(date, (dt.date, dt.datetime)):
        date = date.isoformat()[:10]
    keywords = meta.get("keywords") or []
    return Passage(
        id=str(meta["id"]),
        doc_id=str(meta["id"]),
        title=str(meta["title"]).strip(),
        source=str(meta["source"]).strip().strip("《》"),
        article=str(meta.get("articles") or "").strip(),
        date=str(date),
        in_force=bool(meta["in_force"]),
        region=str(meta["region"]).strip(),
        category=str(meta["category"]).strip(),
        text="\n".join(line.strip() for line in body.strip().splitlines() if line.strip()),
        keywords=" ".join(map(str, keywords)) if isinstance(keywords, list) else str(keywords),
    )


def load_corpus(directory: Path = CORPUS_DIR) -> list[Passage]:
    entries = [parse_entry(path) for path in sorted(directory.rglob("*.md"))]
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            raise CorpusError(f"duplicate entry id {entry.id}")
        seen.add(entry.id)
    return entries
