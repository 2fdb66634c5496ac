"""Danger or crisis in an appeal's description (self-harm, violence, 群体性, 上访, acute hardship,
a death in the family): the signals are data, appeals/urgency.yml, patterns with exclusions.

An exclusion cancels only the pattern matches it overlaps, so "跳楼价" does not alarm but a
"不想活了" elsewhere in the same text still does."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

SIGNALS_FILE = Path(__file__).with_name("urgency.yml")

# Punctuation and the pauses of voice typing both end a clause; the patterns' gaps ([^，])
# stay within one.
_BREAKS = re.compile(r"[^\w]+")


@dataclass(frozen=True)
class Signal:
    id: str
    label: str  # what staff see
    patterns: tuple[re.Pattern, ...]
    exclusions: tuple[re.Pattern, ...]

    def found_in(self, text: str) -> bool:
        excluded = [m.span() for rule in self.exclusions for m in rule.finditer(text)]
        return any(
            not any(start < m.end() and m.start() < end for start, end in excluded)
            for rule in self.patterns
            for m in rule.finditer(text)
        )


def load_signals(path: Path = SIGNALS_FILE) -> tuple[Signal, ...]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not data:
        raise ValueError(f"{path.name}: 应是 信号id: {{label, patterns, exclusions}}")
    return tuple(_signal(path.name, signal_id, entry) for signal_id, entry in data.items())


def _signal(where: str, signal_id: str, entry) -> Signal:
    if not isinstance(entry, dict) or not isinstance(entry.get("label"), str):
        raise ValueError(f"{where}: {signal_id}: 缺少 label")
    if not entry.get("patterns"):
        raise ValueError(f"{where}: {signal_id}: 缺少 patterns")
    compiled = {}
    for key in ("patterns", "exclusions"):
        compiled[key] = []
        for rule in entry.get(key) or []:
            try:
                compiled[key].append(re.compile(rule))
            except (re.error, TypeError) as error:
                raise ValueError(f"{where}: {signal_id} 的 {key}: {rule!r} 写错了（{error}）") from None
    return Signal(signal_id, entry["label"], tuple(compiled["patterns"]), tuple(compiled["exclusions"]))


@lru_cache(maxsize=1)
def signals() -> tuple[Signal, ...]:
    return load_signals()


def urgent_signals(text: str) -> list[str]:
    """The ids of the signals found in text, in the order urgency.yml lists them; [] if none."""
    clauses = _BREAKS.sub("，", text)
    return [signal.id for signal in signals() if signal.found_in(clauses)]


def label(signal_id: str) -> str:
    """What staff see for a signal id (e.g. on `vetbot appeals list --urgent`); an id no longer in
    urgency.yml (a ticket older than an edit of the file) is shown as it was stored."""
    return next((signal.label for signal in signals() if signal.id == signal_id), signal_id)
