"""The workflow rules of workflow.yml, both ways: every allowed step by every role that may make
it, every other role refused, every step not in the file refused with the reason; the file's
checks name the bad entry."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from appeals.service import AppealError
from appeals.workflow import WORKFLOW_FILE, WorkflowError, load_workflow
from tests.appeals.helpers import file, force_status, move

WORKFLOW = load_workflow()
STEPS = [(t.source, t.target, role) for t in WORKFLOW.transitions for role in WORKFLOW.roles]
NOT_STEPS = [(a, b) for a in WORKFLOW.states for b in WORKFLOW.states
             if WORKFLOW.transition(a, b) is None]


def test_the_categories_the_classifier_reads():
    assert [(c.id, c.label) for c in WORKFLOW.categories] == [
        ("zhengce", "政策咨询"), ("daiyu", "待遇落实"), ("kunnan", "生活困难"), ("jiuye", "就业创业"),
        ("yiliao", "医疗"), ("zhufang", "住房"), ("maodun", "矛盾纠纷"), ("yijian", "意见建议"),
        ("qita", "其他")]


def test_the_flow_the_staff_know():
    steps = {(t.source, t.target): (t.name, t.roles) for t in WORKFLOW.transitions}
    assert steps == {
        ("accepted", "dispatched"): ("派单", ("hotline", "leader")),
        ("accepted", "answered"): ("直接答复", ("hotline", "leader")),
        ("dispatched", "in_progress"): ("签收", ("station", "leader")),
        ("dispatched", "visit_pending"): ("签收待走访", ("station", "leader")),
        ("dispatched", "accepted"): ("退单", ("station", "leader")),
        ("visit_pending", "in_progress"): ("已走访", ("station", "leader")),
        ("visit_pending", "resolved"): ("走访化解", ("station", "leader")),
        ("in_progress", "resolved"): ("化解", ("station", "leader")),
        ("in_progress", "answered"): ("答复", ("station", "leader")),
        ("resolved", "follow_up"): ("回访", ("hotline", "leader")),
        ("answered", "follow_up"): ("回访", ("hotline", "leader")),
        ("follow_up", "closed"): ("满意办结", ("veteran", "hotline", "leader")),
        ("follow_up", "in_progress"): ("不满意重办", ("veteran", "hotline", "leader")),
    }
    assert [s for s in WORKFLOW.states if WORKFLOW.final(s)] == ["closed"]


@pytest.mark.parametrize("source,target,role", STEPS)
def test_each_step_by_each_role(sqlite_url, source, target, role):
    reference = file(sqlite_url)
    force_status(sqlite_url, reference, source)
    step = WORKFLOW.transition(source, target)
    if role in step.roles:
        appeal = move(sqlite_url, reference, target, role, note="已电话联系", assignee="zhapu")
        assert (appeal.status, appeal.events[-1].from_state, appeal.events[-1].to_state,
                appeal.events[-1].role) == (target, source, target, role)
    else:
        with pytest.raises(AppealError) as refused:
            move(sqlite_url, reference, target, role, note="已电话联系", assignee="zhapu")
        allowed = "、".join(f"{WORKFLOW.roles[r]}（{r}）" for r in step.roles)
        assert str(refused.value) == f"“{step.name}”只能由{allowed}来做，{WORKFLOW.roles[role]}不能做。"


@pytest.mark.parametrize("source,target", NOT_STEPS)
def test_every_other_step_is_refused(sqlite_url, source, target):
    reference = file(sqlite_url)
    force_status(sqlite_url, reference, source)
    with pytest.raises(AppealError) as refused:
        move(sqlite_url, reference, target, "leader", note="n", assignee="zhapu")
    label = WORKFLOW.state(source).label
    if source == "closed":
        assert str(refused.value) == f"诉求 {reference} 已经已办结，不能再改。"
    else:
        assert str(refused.value).startswith(
            f"诉求 {reference} 现在是“{label}”，不能改为“{WORKFLOW.state(target).label}”。可以改为：")


def test_the_refusal_lists_what_is_allowed(sqlite_url):
    reference = file(sqlite_url)
    with pytest.raises(AppealError) as refused:
        move(sqlite_url, reference, "closed")
    assert str(refused.value) == (f"诉求 {reference} 现在是“已受理”，不能改为“已办结”。"
                                  "可以改为：已派单（dispatched，派单）、已答复（answered，直接答复）。")


def test_a_return_needs_a_reason_and_a_dispatch_an_assignee(sqlite_url):
    reference = file(sqlite_url)
    with pytest.raises(AppealError, match="^“派单”要写明交给哪个单位或哪位工作人员。$"):
        move(sqlite_url, reference, "dispatched")
    move(sqlite_url, reference, "dispatched", assignee="zhapu")
    with pytest.raises(AppealError, match="^“退单”要写明原因。$"):
        move(sqlite_url, reference, "accepted", "station", note="  ")
    appeal = move(sqlite_url, reference, "accepted", "station", note="不属于本镇，应由新仓镇办理")
    assert (appeal.status, appeal.events[-1].note) == ("accepted", "不属于本镇，应由新仓镇办理")


def test_unknown_role_and_state(sqlite_url):
    reference = file(sqlite_url)
    with pytest.raises(AppealError, match="^没有“boss”这个角色"):
        move(sqlite_url, reference, "dispatched", "boss", assignee="zhapu")
    with pytest.raises(AppealError, match="^没有“done”这个状态"):
        move(sqlite_url, reference, "done")


# -- the file's checks ---------------------------------------------------------------------
def broken(tmp_path: Path, change) -> Path:
    data = yaml.safe_load(WORKFLOW_FILE.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "workflow.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("change,message", [
    (lambda d: d["transitions"][2].update(to="signed"),
     "workflow.yml: transitions 第3条: to “signed”不是已定义的状态"),
    (lambda d: d["transitions"][0].update(roles=["hotline", "clerk"]),
     "workflow.yml: transitions 第1条: roles: “clerk”不是已定义的角色"),
    (lambda d: d["states"]["in_progress"]["deadline"].update(zhengce=0),
     "workflow.yml: states in_progress: deadline zhengce 应是正整数（工作日）"),
    (lambda d: d["states"]["in_progress"]["deadline"].update(jiuyi=5),
     "workflow.yml: states in_progress: deadline 的“jiuyi”不是已定义的分类"),
    (lambda d: d["states"]["accepted"].update(told="{day}个工作日内联系您"),
     "workflow.yml: states accepted: told 只能填 {days} 或 {assignee}"),
    (lambda d: d["categories"].append({"id": "yiliao2", "label": "医疗"}),
     "workflow.yml: categories yiliao2: id 或 label 重复"),
    (lambda d: d["transitions"].pop(0) and d["transitions"].pop(0),
     "workflow.yml: states dispatched: 从 accepted 走不到"),
    (lambda d: d.update(initial="new"), "workflow.yml: initial “new”不是已定义的状态"),
    (lambda d: d["extension"].update(approver_roles=[]),
     "workflow.yml: extension.approver_roles 应是非空的角色列表"),
])
def test_a_bad_entry_is_named(tmp_path, change, message):
    with pytest.raises(WorkflowError) as error:
        load_workflow(broken(tmp_path, change))
    assert str(error.value) == message
