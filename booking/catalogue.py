"""The service catalogue and the locations, loaded from catalogue.yml and locations.yml.

Both files are configuration the bureau maintains; a malformed entry stops the load with a
CatalogueError that names the file, the entry and the field."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from functools import lru_cache
from pathlib import Path

import yaml

from booking.calendar import OfficeHours

HERE = Path(__file__).resolve().parent
CATALOGUE_FILE = HERE / "catalogue.yml"
LOCATIONS_FILE = HERE / "locations.yml"

LEVELS = ("市", "镇(街道)", "村(社区)")
BOOKABLE_LEVELS = ("市", "镇(街道)")  # village stations are not booked here (see locations.yml)
PLACEHOLDER = "待确认"  # an address or phone starting with this is not yet confirmed by the bureau


class CatalogueError(ValueError):
    """A malformed entry in catalogue.yml or locations.yml."""


@dataclass(frozen=True)
class Location:
    id: str
    name: str
    level: str
    places: tuple[str, ...]
    address: str
    phone: str
    confirmed: bool
    hours: OfficeHours
    capacity_per_slot: int


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    group: str
    synonyms: tuple[str, ...]
    levels: tuple[str, ...]
    description: str
    eligible: str
    documents: tuple[str, ...]
    documents_note: str
    duration: str
    daipao: bool
    corpus: tuple[str, ...]

    @property
    def village_station(self) -> bool:
        """True when the village (community) station also takes this service."""
        return "村(社区)" in self.levels

    def checklist(self) -> str:
        """The document checklist as read to the veteran (booking read-back and the policy
        answers in knowledge/corpus/). Items end with ；/。 so the list still reads as
        sentences when an answer joins its lines into one paragraph."""
        last = len(self.documents)
        lines = [f"{i}. {doc}{'。' if i == last else '；'}"
                 for i, doc in enumerate(self.documents, 1)]
        if self.documents_note:
            lines.append(self.documents_note)
        return "\n".join(lines)


@dataclass(frozen=True)
class Catalogue:
    services: tuple[Service, ...]
    locations: tuple[Location, ...]

    def service(self, service_id: str) -> Service:
        for service in self.services:
            if service.id == service_id:
                return service
        raise KeyError(service_id)

    def location(self, location_id: str) -> Location:
        for location in self.locations:
            if location.id == location_id:
                return location
        raise KeyError(location_id)

    @property
    def centre(self) -> Location:
        """The city service centre: the default location."""
        return next(loc for loc in self.locations if loc.level == "市")

    def find_service(self, text: str) -> list[Service]:
        """Services the text names, by name, group or synonym; the longest term found wins.

        One service: it is clear. Several (e.g. just "评残"): offer them as buttons. None: ask."""
        best_len, found = 0, []
        for term, services in _terms(self).items():
            if term in text and len(term) >= best_len:
                if len(term) > best_len:
                    best_len, found = len(term), []
                found.extend(s for s in services if s not in found)
        return found

    def locations_for(self, service: Service) -> list[Location]:
        """The bookable locations that handle a service (from its levels)."""
        return [loc for loc in self.locations if loc.level in service.levels]

    def nearest_location(self, text: str) -> Location | None:
        """The station for the town, subdistrict or village named in the text (longest name
        wins); None when no known place is named — the dialogue then defaults to the centre."""
        best = None
        for loc in self.locations:
            for place in loc.places:
                if place in text and (best is None or len(place) > best[0]):
                    best = (len(place), loc)
        return best[1] if best else None


@lru_cache(maxsize=None)
def _terms(catalogue: Catalogue) -> dict[str, tuple[Service, ...]]:
    terms: dict[str, list[Service]] = {}
    for service in catalogue.services:
        for term in (service.name, service.group, *service.synonyms):
            bucket = terms.setdefault(term, [])
            if service not in bucket:
                bucket.append(service)
    return {term: tuple(services) for term, services in terms.items()}


def load_catalogue(catalogue_file: Path = CATALOGUE_FILE,
                   locations_file: Path = LOCATIONS_FILE) -> Catalogue:
    """Load and validate both files; raises CatalogueError naming the bad entry."""
    locations = _load_locations(locations_file)
    services = _load_services(catalogue_file)
    for service in services:
        if not any(loc.level in service.levels for loc in locations):
            raise CatalogueError(f"{catalogue_file.name}: 事项 {service.id}: 没有可预约的办理地点")
    return Catalogue(tuple(services), tuple(locations))


def _read(path: Path, key: str) -> tuple[dict, list]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogueError(f"{path.name}: 读不出来: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get(key), list) or not data[key]:
        raise CatalogueError(f"{path.name}: 缺少 {key} 列表")
    return data, data[key]


class _Entry:
    """Field access for one YAML entry, with errors that name the file, entry and field."""

    def __init__(self, path: Path, index: int, raw):
        self.where = f"{path.name}: 第{index + 1}条"
        if not isinstance(raw, dict):
            raise CatalogueError(f"{self.where}: 应是一组“字段: 值”")
        self.raw = raw
        entry_id = raw.get("id")
        if not isinstance(entry_id, str) or not re.fullmatch(r"[a-z0-9-]+", entry_id):
            raise CatalogueError(f"{self.where}: id 应是小写英文、数字和连字符")
        self.where = f"{path.name}: {entry_id}"
        self.id = entry_id

    def fail(self, field: str, problem: str):
        raise CatalogueError(f"{self.where}: {field} {problem}")

    def text(self, field: str, default: str | None = None) -> str:
        value = self.raw.get(field, default)
        if not isinstance(value, str) or (default is None and not value.strip()):
            self.fail(field, "缺少或不是文字")
        return value.strip()

    def texts(self, field: str) -> tuple[str, ...]:
        value = self.raw.get(field)
        if not isinstance(value, list) or not value or not all(
                isinstance(v, str) and v.strip() for v in value):
            self.fail(field, "应是非空的文字列表")
        return tuple(v.strip() for v in value)

    def flag(self, field: str) -> bool:
        value = self.raw.get(field)
        if not isinstance(value, bool):
            self.fail(field, "应是 true 或 false")
        return value


def _load_services(path: Path) -> list[Service]:
    _, raw_entries = _read(path, "services")
    services, owner = [], {}  # owner: term -> group that uses it
    for index, raw in enumerate(raw_entries):
        entry = _Entry(path, index, raw)
        levels = entry.texts("levels")
        if any(level not in LEVELS for level in levels):
            entry.fail("levels", f"只能是 {' / '.join(LEVELS)}")
        service = Service(
            id=entry.id, name=entry.text("name"), group=entry.text("group"),
            synonyms=entry.texts("synonyms"), levels=levels,
            description=entry.text("description"), eligible=entry.text("eligible"),
            documents=entry.texts("documents"), documents_note=entry.text("documents_note", ""),
            duration=entry.text("duration"), daipao=entry.flag("daipao"),
            corpus=entry.texts("corpus"),
        )
        if any(s.id == service.id for s in services):
            entry.fail("id", "重复")
        for term in (service.name, *service.synonyms):
            if owner.get(term, service.id) != service.id:
                entry.fail("synonyms", f"“{term}”已被 {owner[term]} 使用")
            owner[term] = service.id
        services.append(service)
    for service in services:  # a group name may only be said of the services in that group
        clash = owner.get(service.group)
        if clash and service.group != next(s.group for s in services if s.id == clash):
            raise CatalogueError(f"{path.name}: {service.id}: 组名“{service.group}”与 {clash} 的说法重复")
    return services


def _load_locations(path: Path) -> list[Location]:
    data, raw_entries = _read(path, "locations")
    defaults = data.get("defaults") or {}
    locations = []
    for index, raw in enumerate(raw_entries):
        entry = _Entry(path, index, raw)
        level = entry.text("level")
        if level not in BOOKABLE_LEVELS:
            entry.fail("level", f"只能是 {' / '.join(BOOKABLE_LEVELS)}")
        capacity = raw.get("capacity_per_slot", defaults.get("capacity_per_slot"))
        if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
            entry.fail("capacity_per_slot", "应是正整数")
        location = Location(
            id=entry.id, name=entry.text("name"), level=level, places=entry.texts("places"),
            address=entry.text("address"), phone=entry.text("phone"),
            confirmed=entry.flag("confirmed"),
            hours=_hours(entry, raw.get("hours", defaults.get("hours"))),
            capacity_per_slot=capacity,
        )
        if any(loc.id == location.id for loc in locations):
            entry.fail("id", "重复")
        if location.confirmed and PLACEHOLDER in (location.address + location.phone):
            entry.fail("confirmed", f"为 true，但地址或电话还是“{PLACEHOLDER}”")
        locations.append(location)
    if sum(loc.level == "市" for loc in locations) != 1:
        raise CatalogueError(f"{path.name}: 应有且只有一个市级地点（服务中心）")
    return locations


def _hours(entry: _Entry, raw) -> OfficeHours:
    if not isinstance(raw, dict):
        entry.fail("hours", "缺少（也没有 defaults.hours）")
    spans = []
    for half in ("morning", "afternoon"):
        span = raw.get(half)
        try:
            start, end = (time.fromisoformat(v) for v in span)
        except (TypeError, ValueError):
            entry.fail(f"hours.{half}", "应是 [\"HH:MM\", \"HH:MM\"]")
        if start >= end or start.minute % 30 or end.minute % 30:
            entry.fail(f"hours.{half}", "应是开始早于结束的整点或半点")
        spans.append((start, end))
    if spans[0][1] > time(12) or spans[1][0] < time(12):
        entry.fail("hours", "上午应在12点前结束，下午应在12点后开始")
    return OfficeHours(morning=spans[0], afternoon=spans[1])
