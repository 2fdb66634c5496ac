"""What the veteran is told about an appeal: where it stands, and what happens next. Short plain
Chinese, the time limits from workflow.yml in working days, a date where there is one."""
from __future__ import annotations

from datetime import date
from functools import lru_cache

from appeals.models import EXTENDED, MOVED, Appeal
from appeals.workflow import load_workflow

VISIT_CATEGORIES = ("kunnan",)  # 生活困难: always a home visit (有困难必走访)


def day_text(day: date) -> str:
    return f"{day.month}月{day.day}日"


def status_text(appeal: Appeal, today: date) -> str:
    """Where the appeal stands, e.g. "已受理，1个工作日内会有工作人员联系您（12月3日前）"."""
    workflow = load_workflow()
    state = workflow.state(appeal.status)
    text = state.told.format(days=state.days(appeal.category),
                             assignee=assignee_text(appeal.assignee))
    if appeal.deadline is None or workflow.final(appeal.status):
        return text
    if appeal.deadline < today:
        return f"{text}（期限是{day_text(appeal.deadline)}，已经超期，我们正在催办）"
    if _extended(appeal):
        return f"{text}（已延期到{day_text(appeal.deadline)}）"
    return f"{text}（{day_text(appeal.deadline)}前）"


def _extended(appeal: Appeal) -> bool:
    """Whether the current deadline comes from an extension (the last step or extension was one)."""
    for event in reversed(appeal.events):
        if event.action in (MOVED, EXTENDED):
            return event.action == EXTENDED
    return False


def next_steps_text(appeal: Appeal) -> str:
    """What happens next, for the confirmation after filing (the reference is the caller's to
    give): contact, the visit where there is one, the answer, the follow-up, how to ask."""
    workflow = load_workflow()
    contact = workflow.state(workflow.initial).days(appeal.category)
    first = f"{contact}个工作日内"
    if appeal.deadline is not None:
        first += f"（{day_text(appeal.deadline)}前）"
    steps = [f"{first}会有工作人员联系您"]
    if appeal.visit_wanted or appeal.category in VISIT_CATEGORIES:
        steps.append(f"工作人员接手后，{workflow.state('visit_pending').days(appeal.category)}个工作日内上门走访")
    steps.append(f"工作人员接手后，一般{workflow.state('in_progress').days(appeal.category)}个工作日内给您答复")
    steps.append("办好后会回访，问您满不满意；不满意的，重新办理")
    lines = ["接下来："] + [f"{i}. {step}；" for i, step in enumerate(steps, 1)]
    lines[-1] = lines[-1][:-1] + "。"
    lines.append("想知道办到哪一步了，随时发“查诉求”，再报编号或手机号。")
    return "\n".join(lines)


def assignee_text(assignee: str | None) -> str:
    """A station id (zhapu) as its name; a department or person as written."""
    if not assignee:
        return "承办单位"
    try:
        return _catalogue().location(assignee).name
    except KeyError:
        return assignee


@lru_cache(maxsize=None)
def _catalogue():
    from booking.catalogue import load_catalogue

    return load_catalogue()
