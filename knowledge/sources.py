"""The registry of every source a reply may cite (knowledge/sources.yml).

A corpus entry's `source:` must be a name registered here; an imported law is found by its full
title. The kind decides how a reply cites it (knowledge/answer.py `citation()`): legislation by
article and date, a press report or general practice with the caveat that the bureau decides."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

import yaml

from knowledge.importer import article_number

SOURCES_FILE = Path(__file__).with_name("sources.yml")
LEGISLATION = ("law", "regulation")
REQUIRED = {
    "law": ("title", "date", "effective", "articles"),
    "regulation": ("title", "date", "effective", "articles"),
    "local": (),  # date or via, checked below
    "press": ("outlet", "date", "title"),
    "practice": ("note",),
}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PARTIAL_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")  # a report or document known by year


class SourceError(ValueError):
    pass


@dataclass(frozen=True)
class Source:
    name: str  # what corpus entries write as `source:`
    kind: str  # law / regulation / local / press / practice
    title: str = ""  # legislation: full title as imported; press: the headline
    date: str = ""  # legislation: version date; local, press: YYYY[-MM[-DD]]
    effective: str = ""  # legislation: in force from
    articles: int = 0  # legislation: 第一条 … 第N条
    outlet: str = ""  # press: the newspaper
    via: str = ""  # local: the press report it is known from
    note: str = ""  # practice: what it covers

    @property
    def year(self) -> str:
        return self.date[:4]

    def has_article(self, label: str) -> bool:
        """Whether 第X条 (or 第X条之一) is within the law's articles."""
        try:
            return 1 <= article_number(label) <= self.articles
        except ValueError:
            return False


class Registry:
    def __init__(self, sources: list[Source]):
        self._by_name = {s.name: s for s in sources}
        self._by_title = {s.title: s for s in sources if s.kind in LEGISLATION}

    def get(self, name: str) -> Source | None:
        """The source a passage cites: a corpus entry's name, or an imported law's title."""
        return self._by_name.get(name) or self._by_title.get(name)

    def __iter__(self):
        return iter(self._by_name.values())


def _text(value) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    return "" if value is None else str(value).strip()


def _source(name: str, raw) -> Source:
    if not isinstance(raw, dict):
        raise SourceError(f"{name}: should be a mapping of fields")
    known = {f.name for f in fields(Source)} - {"name"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SourceError(f"{name}: unknown field {', '.join(unknown)}")
    kind = _text(raw.get("kind"))
    if kind not in REQUIRED:
        raise SourceError(f"{name}: kind {kind!r} is not one of {', '.join(REQUIRED)}")
    missing = [key for key in REQUIRED[kind] if raw.get(key) in (None, "")]
    if kind == "local" and not (raw.get("date") or raw.get("via")):
        missing.append("date or via")
    if missing:
        raise SourceError(f"{name}: {kind} needs {', '.join(missing)}")
    values = {key: _text(value) for key, value in raw.items() if key != "articles"}
    articles = raw.get("articles", 0)
    if kind in LEGISLATION:
        if not isinstance(articles, int) or isinstance(articles, bool) or articles < 1:
            raise SourceError(f"{name}: articles should be the number of articles, got {articles!r}")
        for key in ("date", "effective"):
            if not _ISO_DATE.match(values[key]):
                raise SourceError(f"{name}: {key} should be YYYY-MM-DD, got {values[key]!r}")
    elif values.get("date") and not _PARTIAL_DATE.match(values["date"]):
        raise SourceError(f"{name}: date should be YYYY, YYYY-MM or YYYY-MM-DD, got {values['date']!r}")
    return Source(name=name, articles=articles if kind in LEGISLATION else 0, **values)


def load_sources(path: Path = SOURCES_FILE) -> Registry:
    """Read and check the registry; a SourceError names the file and the bad entry."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SourceError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not data:
        raise SourceError(f"{path}: should map each source name to its fields")
    try:
        sources = [_source(str(name), raw) for name, raw in data.items()]
        by_name = {s.name: s for s in sources}
        titles: set[str] = set()
        for source in sources:
            if source.via and getattr(by_name.get(source.via), "kind", "") != "press":
                raise SourceError(f"{source.name}: via {source.via!r} is not a registered press report")
            if source.kind in LEGISLATION:
                if source.title in titles:
                    raise SourceError(f"{source.name}: title {source.title!r} is registered twice")
                titles.add(source.title)
    except SourceError as exc:
        raise SourceError(f"{path}: {exc}") from None
    return Registry(sources)


@lru_cache(maxsize=1)
def registry() -> Registry:
    """The shipped registry, read once per process."""
    return load_sources()
