"""Load the project-written entries under knowledge/corpus/ (Markdown with YAML front matter).

An entry that lists documents to bring does not write them itself: its front matter names a
service of the booking catalogue (`checklist: pingcan-xinban`) and its text holds the marker
`{{checklist}}`, filled here from that service's checklist in booking/catalogue.yml, so the
policy answer and the booking's read-back say the same thing.

Every entry cites a source registered in knowledge/sources.yml; an entry citing a law or
regulation gives its effective date as registered and only articles the law has (also those its
text names as 《法名》第X条)."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import yaml

from booking.catalogue import Catalogue, load_catalogue
from knowledge.passage import Passage
from knowledge.sources import LEGISLATION, Registry, SourceError, registry
from vetbot.config import PROJECT_ROOT

CORPUS_DIR = PROJECT_ROOT / "knowledge" / "corpus"
REQUIRED = ("id", "title", "category", "region", "source", "effective_date", "in_force")
CHECKLIST_MARKER = "{{checklist}}"
_ARTICLE = r"第[零〇一二两三四五六七八九十百千\d]+条(?:之[一二三四五六七八九十]+)?"
_NAMED_ARTICLES = re.compile(rf"《([^》]+)》((?:{_ARTICLE}[、和及]?)+)")


class CorpusError(ValueError):
    pass


def parse_entry(path: Path, catalogue: Catalogue | None = None,
                sources: Registry | None = None) -> Passage:
    """Parse one entry; `catalogue` fills the checklist marker and `sources` checks what it cites
    (default: the shipped ones)."""
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
    source = str(meta["source"]).strip().strip("《》")
    articles = str(meta.get("articles") or "").strip()
    _check_source(path, source, articles, str(date), body, sources or _shipped_sources())
    body = _fill_checklist(path, meta.get("checklist"), body, catalogue)
    return Passage(
        id=str(meta["id"]),
        doc_id=str(meta["id"]),
        title=str(meta["title"]).strip(),
        source=source,
        article=articles,
        date=str(date),
        in_force=bool(meta["in_force"]),
        region=str(meta["region"]).strip(),
        category=str(meta["category"]).strip(),
        text="\n".join(line.strip() for line in body.strip().splitlines() if line.strip()),
        keywords=" ".join(map(str, keywords)) if isinstance(keywords, list) else str(keywords),
    )


def _shipped_sources() -> Registry:
    """knowledge/sources.yml; a mistake in it stops the build like a bad entry (vetbot kb build)."""
    try:
        return registry()
    except SourceError as exc:
        raise CorpusError(str(exc)) from None


def _check_source(path: Path, name: str, articles: str, date: str, body: str,
                  sources: Registry) -> None:
    """The cited source is registered; a law's date and articles are the registered ones."""
    source = sources.get(name)
    if source is None or source.name != name:  # an imported law's full title is not a name
        raise CorpusError(f"{path}: source {name!r} is not a source name in knowledge/sources.yml")
    cited = []
    if source.kind in LEGISLATION:
        if date != source.effective:
            raise CorpusError(f"{path}: effective_date {date}, but {name} is in force from "
                              f"{source.effective} (knowledge/sources.yml)")
        cited = [(source, label.strip()) for label in articles.split("、") if label.strip()]
    elif articles:
        raise CorpusError(f"{path}: articles: {articles}, but {name} ({source.kind}) has no articles")
    for match in _NAMED_ARTICLES.finditer(body):  # 《法名》第X条 in the text
        named = sources.get(match.group(1))
        if named is not None and named.kind in LEGISLATION:
            cited += [(named, label) for label in re.findall(_ARTICLE, match.group(2))]
    for law, label in cited:
        if not law.has_article(label):
            raise CorpusError(f"{path}: {label} is not an article of {law.name} "
                              f"({law.articles} articles in knowledge/sources.yml)")


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


def load_corpus(directory: Path = CORPUS_DIR, catalogue: Catalogue | None = None,
                sources: Registry | None = None) -> list[Passage]:
    catalogue = catalogue or load_catalogue()
    sources = sources or _shipped_sources()
    entries = [parse_entry(path, catalogue, sources) for path in sorted(directory.rglob("*.md"))]
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            raise CorpusError(f"duplicate entry id {entry.id}")
        seen.add(entry.id)
    return entries
