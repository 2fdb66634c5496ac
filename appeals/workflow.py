"""The appeal workflow, loaded from workflow.yml: categories, roles, states with their deadlines in
working days, and the allowed transitions with the roles that may make them.

The file is configuration the bureau maintains; a malformed entry stops the load with a
WorkflowError naming the file, the entry and the field (as booking/catalogue.py does)."""
from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import yaml

from booking.calendar import NotBookable, is_workday

WORKFLOW_FILE = Path(__file__).resolve().parent / "workflow.yml"
ID = re.compile(r"[a-z][a-z0-9_]*")
TOLD_FIELDS = {"days", "assignee"}  # what a state's `told` text may fill in


class WorkflowError(ValueError):
    """A malformed entry in workflow.yml."""


class CalendarUnknown(ValueError):
    """A deadline that falls in a year the holiday calendar does not know yet; str() says so."""

    def __init__(self, year: int):
        super().__init__(f"{year}年的放假安排系统里还没有，无法按工作日计算期限"
                         "（请更新 chinese-calendar）。")
        self.year = year


@dataclass(frozen=True)
class Category:
    id: str
    label: str


@dataclass(frozen=True)
class State:
    id: str
    label: str
    told: str  # what the veteran is told, with {days} / {assignee}
    deadlines: dict  # category id or "default" → working days; empty: no deadline
    tell: bool  # a step by staff into this state is told to the veteran
    ask: str  # asked in that notice ("" for nothing)

    def days(self, category: str) -> int | None:
        return self.deadlines.get(category, self.deadlines.get("default"))


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    name: str
    roles: tuple[str, ...]
    note_required: bool
    assignee_required: bool


@dataclass(frozen=True)
class Workflow:
    categories: tuple[Category, ...]
    roles: dict  # id → label
    initial: str
    follow_up_state: str  # 回访: leaving it for a final state is "satisfied", else "not satisfied"
    states: dict  # id → State, in the file's order
    transitions: tuple[Transition, ...]
    extension_roles: tuple[str, ...]
    max_extension_days: int

    def category(self, category_id: str) -> Category:
        for category in self.categories:
            if category.id == category_id:
                return category
        raise KeyError(category_id)

    def state(self, state_id: str) -> State:
        return self.states[state_id]

    def transition(self, source: str, target: str) -> Transition | None:
        return next((t for t in self.transitions if (t.source, t.target) == (source, target)), None)

    def next_states(self, source: str) -> list[Transition]:
        return [t for t in self.transitions if t.source == source]

    def final(self, state_id: str) -> bool:
        return not self.next_states(state_id)

    def deadline(self, state_id: str, category: str, start: date) -> date | None:
        """The day by which `state_id`, entered on `start`, must be left: None when the state
        has no deadline; CalendarUnknown when the count runs into an unknown year."""
        days = self.state(state_id).days(category)
        return None if days is None else add_working_days(start, days)


def add_working_days(start: date, days: int) -> date:
    """The `days`-th working day after `start` (start itself not counted): weekends and holidays
    are skipped, 调休 make-up days count. CalendarUnknown for a year the calendar does not know."""
    day = start
    while days > 0:
        day += timedelta(days=1)
        try:
            days -= is_workday(day)
        except NotBookable:
            raise CalendarUnknown(day.year) from None
    return day


@lru_cache(maxsize=None)
def load_workflow(path: Path = WORKFLOW_FILE) -> Workflow:
    """Load and validate the file; raises WorkflowError naming the bad entry."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise WorkflowError(f"{path.name}: 读不出来: {exc}") from exc
    if not isinstance(data, dict):
        raise WorkflowError(f"{path.name}: 应是一组“字段: 值”")
    where = path.name
    categories = _categories(where, data.get("categories"))
    roles = data.get("roles")
    if not isinstance(roles, dict) or not roles or not all(
            isinstance(k, str) and ID.fullmatch(k) and isinstance(v, str) for k, v in roles.items()):
        raise WorkflowError(f"{where}: roles 应是“角色id: 名称”")
    states = _states(where, data.get("states"), {c.id for c in categories})
    transitions = _transitions(where, data.get("transitions"), states, roles)
    initial = data.get("initial")
    if initial not in states:
        raise WorkflowError(f"{where}: initial “{initial}”不是已定义的状态")
    follow_up = data.get("follow_up_state")
    if follow_up not in states:
        raise WorkflowError(f"{where}: follow_up_state “{follow_up}”不是已定义的状态")
    extension = data.get("extension") or {}
    extension_roles = _role_list(f"{where}: extension.approver_roles", extension.get("approver_roles"), roles)
    max_days = extension.get("max_days")
    if not isinstance(max_days, int) or isinstance(max_days, bool) or max_days < 1:
        raise WorkflowError(f"{where}: extension.max_days 应是正整数")
    workflow = Workflow(tuple(categories), dict(roles), initial, follow_up, states,
                        tuple(transitions), extension_roles, max_days)
    _check_reachable(where, workflow)
    return workflow


def _categories(where: str, raw) -> list[Category]:
    if not isinstance(raw, list) or not raw:
        raise WorkflowError(f"{where}: 缺少 categories 列表")
    categories = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not ID.fullmatch(entry["id"]):
            raise WorkflowError(f"{where}: categories 第{index + 1}条: id 应是小写英文")
        label = entry.get("label")
        if not isinstance(label, str) or not label.strip():
            raise WorkflowError(f"{where}: categories {entry['id']}: label 缺少或不是文字")
        if any(c.id == entry["id"] or c.label == label.strip() for c in categories):
            raise WorkflowError(f"{where}: categories {entry['id']}: id 或 label 重复")
        categories.append(Category(entry["id"], label.strip()))
    return categories


def _states(where: str, raw, category_ids: set[str]) -> dict[str, State]:
    if not isinstance(raw, dict) or not raw:
        raise WorkflowError(f"{where}: 缺少 states")
    states = {}
    for state_id, entry in raw.items():
        here = f"{where}: states {state_id}"
        if not isinstance(state_id, str) or not ID.fullmatch(state_id) or not isinstance(entry, dict):
            raise WorkflowError(f"{here}: id 应是小写英文，内容应是一组“字段: 值”")
        label, told = entry.get("label"), entry.get("told")
        for field, value in (("label", label), ("told", told)):
            if not isinstance(value, str) or not value.strip():
                raise WorkflowError(f"{here}: {field} 缺少或不是文字")
        fields = {name for _, name, _, _ in string.Formatter().parse(told) if name is not None}
        if fields - TOLD_FIELDS:
            raise WorkflowError(f"{here}: told 只能填 {{days}} 或 {{assignee}}")
        deadlines = entry.get("deadline") or {}
        if deadlines and "default" not in deadlines:
            raise WorkflowError(f"{here}: deadline 缺少 default")
        for key, days in deadlines.items():
            if key != "default" and key not in category_ids:
                raise WorkflowError(f"{here}: deadline 的“{key}”不是已定义的分类")
            if not isinstance(days, int) or isinstance(days, bool) or days < 1:
                raise WorkflowError(f"{here}: deadline {key} 应是正整数（工作日）")
        if "{days}" in told and not deadlines:
            raise WorkflowError(f"{here}: told 用了 {{days}}，但没有 deadline")
        tell, ask = entry.get("tell", False), entry.get("ask", "")
        if not isinstance(tell, bool):
            raise WorkflowError(f"{here}: tell 应是 true 或 false")
        if not isinstance(ask, str) or (ask and not tell):
            raise WorkflowError(f"{here}: ask 应是文字，且只用于 tell 为 true 的状态")
        states[state_id] = State(state_id, label.strip(), told.strip(), dict(deadlines), tell,
                                 ask.strip())
    return states


def _transitions(where: str, raw, states: dict, roles: dict) -> list[Transition]:
    if not isinstance(raw, list) or not raw:
        raise WorkflowError(f"{where}: 缺少 transitions 列表")
    transitions = []
    for index, entry in enumerate(raw):
        here = f"{where}: transitions 第{index + 1}条"
        if not isinstance(entry, dict):
            raise WorkflowError(f"{here}: 应是一组“字段: 值”")
        source, target, name = entry.get("from"), entry.get("to"), entry.get("name")
        for field, value in (("from", source), ("to", target)):
            if value not in states:
                raise WorkflowError(f"{here}: {field} “{value}”不是已定义的状态")
        if not isinstance(name, str) or not name.strip():
            raise WorkflowError(f"{here}: name 缺少或不是文字")
        if any((t.source, t.target) == (source, target) for t in transitions):
            raise WorkflowError(f"{here}: {source} → {target} 重复")
        flags = {}
        for field in ("note_required", "assignee_required"):
            flags[field] = entry.get(field, False)
            if not isinstance(flags[field], bool):
                raise WorkflowError(f"{here}: {field} 应是 true 或 false")
        transitions.append(Transition(source, target, name.strip(),
                                      _role_list(f"{here}: roles", entry.get("roles"), roles),
                                      **flags))
    return transitions


def _role_list(here: str, raw, roles: dict) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        raise WorkflowError(f"{here} 应是非空的角色列表")
    for role in raw:
        if role not in roles:
            raise WorkflowError(f"{here}: “{role}”不是已定义的角色")
    return tuple(raw)


def _check_reachable(where: str, workflow: Workflow) -> None:
    """Every state can be reached from the initial one, and a final state from every state."""
    for state_id in workflow.states:
        if state_id not in _reachable(workflow, workflow.initial):
            raise WorkflowError(f"{where}: states {state_id}: 从 {workflow.initial} 走不到")
        if not any(workflow.final(s) for s in _reachable(workflow, state_id)):
            raise WorkflowError(f"{where}: states {state_id}: 走不到办结")


def _reachable(workflow: Workflow, start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for t in workflow.next_states(todo.pop()):
            if t.target not in seen:
                seen.add(t.target)
                todo.append(t.target)
    return seen
