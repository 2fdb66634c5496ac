"""Load the project-written entries under knowledge/corpus/ (Markdown with YAML front matter).

An entry that lists documents to bring does not write them itself: its front matter names a
service of the booking catalogue (`checklist: pingcan-xinban`) and its text holds the marker
`{{checklist}}`, filled here from that service's checklist in booking/catalogue.yml, so the
policy answer and the booking's read-back say the same thing."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from booking.catalogue import Catalogue, load_catalogue
from knowledge.passage import Passage
from vetbot.config import PROJECT_ROOT

CORPUS_DIR = PROJECT_ROOT / "knowledge" / "corpus"
REQUIRED = ("id", "title", "category", "region", "source", "effective_date", "in_force")
CHECKLIST_MARKER = "{{checklist}}"


class CorpusError(ValueError):
    pass


def parse_entry(path: Path, catalogue: Catalogue | None = None) -> Passage:
    """Parse one entry; `catalogue` fills the checklist marker (default: the shipped one)."""
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
    body = _fill_checklist(path, meta.get("checklist"), body, catalogue)
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


def _fill_checklist(path: Path, service_id, body: str, catalogue: Catalogue | None) -> str:
    """The body with the marker replaced by the named service's checklist."""
    if service_id is None:
        if CHECKLIST_MARKER in body:
            raise CorpusError(f"{path}: {CHECKLIST_MARKER} needs `checklist: <service id>` "
                              "in the front matter")
    else:
        if body.count(CHECKLIST_MARKER) != 1:
            raise CorpusError(f"{path}: checklist: {service_id} needs one {CHECKLIST_MARKER} "
                              "marker in the text")
        try:
            service = (catalogue or load_catalogue()).service(str(service_id))
        except KeyError:
            raise CorpusError(f"{path}: checklist: no service {service_id!r} "
                              "in booking/catalogue.yml") from None
        body = body.replace(CHECKLIST_MARKER, f"\n{service.checklist()}\n")
    if "{{" in body:
        raise CorpusError(f"{path}: unknown marker; only {CHECKLIST_MARKER} is filled")
    return body


def load_corpus(directory: Path = CORPUS_DIR, catalogue: Catalogue | None = None) -> list[Passage]:
    catalogue = catalogue or load_catalogue()
    entries = [parse_entry(path, catalogue) for path in sorted(directory.rglob("*.md"))]
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            raise CorpusError(f"duplicate entry id {entry.id}")
        seen.add(entry.id)
    return entries
