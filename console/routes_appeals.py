"""Console API and page: appeals (诉求) for staff, over appeals.service and the workflow in
appeals/workflow.yml.

A console role acts as a workflow role: 接线员 as hotline (受理), 管理员 as leader (分管领导, who
may make every step and approve extensions). The detail lists only the steps this staff member may
take from the current state; the service refuses any other with the workflow's reason (409). What
an appeal looks like to staff and its CSV (appeals/present.py) and the look-ups of states,
categories, towns and assignees (appeals/service.py, booking/service.py) are the ones `vetbot appeals`
uses. Phones are masked in every response; free text is masked again on the way out. Changes and
exports are audited.

Re-assignment: the workflow has no step that changes the assignee outside 派单; an appeal goes to
someone else by 退单 (back to 已受理, by the station or a leader, with a reason) and a new 派单."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from appeals import present, service
from appeals import urgency
from appeals.workflow import load_workflow
from booking import service as booking_service
from booking.calendar import TZ
from booking.pii import redact
from console import audit
from console.auth import StaffPrincipal, current_staff, require_admin
from console.csv_export import csv_response
from console.models import ADMIN, OPERATOR
from vetbot.storage import session_scope

router = APIRouter(tags=["appeals"])
PAGE = Path(__file__).resolve().parent / "static" / "appeals.html"
WORKFLOW_ROLE = {OPERATOR: "hotline", ADMIN: "leader"}
MAX_LIMIT = 1000


class AppealOut(BaseModel):
    reference: str
    urgent: bool
    urgent_signals: list[str] = Field(description="紧急信号的名称")
    category: str
    category_label: str
    status: str
    status_label: str
    deadline: str | None
    overdue: bool
    assignee: str | None
    assignee_label: str | None
    town: str
    station_code: str | None
    name: str
    phone: str = Field(description="隐去中间四位，如 138****5678")
    visit_wanted: bool
    channel: str | None
    created_at: str
    description: str


class AppealEventOut(BaseModel):
    at: str
    actor: str
    role: str
    action: str
    from_state: str | None
    to_state: str | None
    deadline: str | None
    note: str | None
    text: str


class NextStep(BaseModel):
    to_state: str
    label: str
    name: str
    note_required: bool
    assignee_required: bool


class AppealDetail(AppealOut):
    told: str = Field(description="老兵查询时看到的现状")
    events: list[AppealEventOut]
    next_steps: list[NextStep] = Field(description="这位工作人员现在可以做的步骤")
    can_extend: bool


class AppealPage(BaseModel):
    total: int
    items: list[AppealOut]


class TransitionIn(BaseModel):
    to_state: str
    note: str | None = Field(None, max_length=2000)
    assignee: str | None = Field(None, max_length=64, description="派单时必填：服务站编号或镇名、科室、人员")


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


class AssignIn(BaseModel):
    assignee: str = Field(min_length=1, max_length=64)
    note: str | None = Field(None, max_length=2000)


class ExtendIn(BaseModel):
    days: int
    reason: str = Field(max_length=500)


def _today() -> date:
    return datetime.now(TZ).date()


def _role(staff: StaffPrincipal) -> str:
    return WORKFLOW_ROLE[staff.role]


def _actor(staff: StaffPrincipal) -> str:
    return f"staff:{staff.username}"


def _refusal(error: Exception) -> HTTPException:
    if isinstance(error, service.NotFound):
        return HTTPException(404, str(error))
    if isinstance(error, (service.Refusal, booking_service.Refusal)):
        return HTTPException(400, str(error))
    return HTTPException(409, str(error))  # the workflow's or the service's reason


@contextmanager
def _refused():
    """The appeal service's refusal, as the staff member's answer with its reason."""
    try:
        yield
    except service.AppealError as error:
        raise _refusal(error) from None


def _out(appeal, today: date) -> dict:
    record = present.as_dict(appeal, show_phone=False, today=today)
    return {**record, "description": redact(record["description"]),
            "urgent_signals": [urgency.label(s) for s in record["urgent_signals"]]}


def _detail(appeal, staff: StaffPrincipal) -> dict:
    workflow, role, today = load_workflow(), _role(staff), _today()
    events = []
    for e in appeal.events:
        event = present.event_dict(e)
        event["note"] = redact(event["note"]) if event["note"] else None
        events.append({**event, "from_state": e.from_state, "to_state": e.to_state,
                       "text": present.event_text(event)})
    steps = [{"to_state": t.target, "label": workflow.state(t.target).label, "name": t.name,
              "note_required": t.note_required, "assignee_required": t.assignee_required}
             for t in workflow.next_states(appeal.status) if role in t.roles]
    return {**_out(appeal, today), "told": service.status_text(appeal, today), "events": events,
            "next_steps": steps,
            "can_extend": (role in workflow.extension_roles and appeal.deadline is not None
                           and not appeal.closed)}


FILTER_NAMES = ("status", "category", "town", "urgent", "overdue", "assignee")


def _filters(status: list[str] | None = Query(None, description="可重复，如 accepted 或 已受理"),
             category: str | None = Query(None, description="如 kunnan 或 生活困难"),
             town: str | None = Query(None, description="镇（街道），如 乍浦"),
             urgent: bool | None = None, overdue: bool = False,
             assignee: str | None = Query(None, description="承办：服务站编号或镇名、科室、人员")) -> tuple:
    """The list and CSV filters (one dependency, so both read them the same way)."""
    return status, category, town, urgent, overdue, assignee


def _filter_note(filters: tuple) -> dict:
    """The filters of an export, for the audit row (free text masked: staff may type anything)."""
    return {k: redact(v) if isinstance(v, str) else v for k, v in zip(FILTER_NAMES, filters)
            if v not in (None, False)}


def _filtered(session, status, category, town, urgent, overdue, assignee) -> list:
    try:
        appeals = service.list_appeals(
            session, statuses=[service.state_id(s) for s in status] if status else None,
            category=service.category_id(category),
            station_code=booking_service.location_code(town) if town else None,
            urgent=urgent, overdue_on=_today() if overdue else None)
        wanted = service.assignee_id(assignee.strip()) if assignee and assignee.strip() else None
    except (service.Refusal, booking_service.Refusal) as refusal:
        raise _refusal(refusal) from None
    return [a for a in appeals if wanted is None or a.assignee == wanted]


class Option(BaseModel):
    value: str
    label: str


class AppealOptions(BaseModel):
    states: list[Option]
    categories: list[Option]
    towns: list[Option] = Field(description="服务站（按镇、街道）：诉求的镇和派单的承办单位")


@router.get("/api/appeal-options", response_model=AppealOptions, summary="筛选用的状态、分类和镇（服务站）")
def appeal_options(staff: StaffPrincipal = Depends(current_staff)) -> dict:
    workflow = load_workflow()
    return {"states": [{"value": s.id, "label": s.label} for s in workflow.states.values()],
            "categories": [{"value": c.id, "label": c.label} for c in workflow.categories],
            "towns": [{"value": loc.id, "label": loc.name} for loc in booking_service.catalogue().locations]}


@router.get("/api/appeals", response_model=AppealPage, summary="诉求列表（紧急的在前，再按期限）")
def list_appeals(filters: tuple = Depends(_filters), limit: int = Query(100, ge=1, le=MAX_LIMIT),
                 offset: int = Query(0, ge=0), staff: StaffPrincipal = Depends(current_staff)) -> dict:
    today = _today()
    with session_scope() as session:
        appeals = _filtered(session, *filters)
        return {"total": len(appeals), "items": [_out(a, today) for a in appeals[offset:offset + limit]]}


@router.get("/api/appeals.csv", summary="导出诉求 CSV（UTF-8 带 BOM；手机号隐去中间四位）",
            response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def export_appeals(filters: tuple = Depends(_filters), staff: StaffPrincipal = Depends(current_staff)):
    today = _today()
    with session_scope() as session:
        appeals = _filtered(session, *filters)
        text = present.csv_text([_out(a, today) for a in appeals])
        audit.record(session, staff, "export", "appeal", None, {"rows": len(appeals), "filters": _filter_note(filters)})
    return csv_response(text, "appeals")


def _find(session, reference: str):
    appeal = service.get_by_reference(session, reference)
    if appeal is None:
        raise _refusal(service.NotFound())
    return appeal


@router.get("/api/appeals/{reference}", response_model=AppealDetail,
            summary="一件诉求的详情、全部记录和这位工作人员可以做的步骤")
def get_appeal(reference: str, staff: StaffPrincipal = Depends(current_staff)) -> dict:
    with session_scope() as session:
        appeal = _find(session, reference)
        audit.record(session, staff, "view_appeal", "appeal", appeal.reference)
        return _detail(appeal, staff)


def _step(session, staff: StaffPrincipal, action: str, reference: str, to_state: str,
          note: str | None, assignee: str | None) -> dict:
    """One workflow step by this staff member (a plain step or 派单), audited as `action`; the
    service's refusal goes back with its reason."""
    with _refused():
        appeal = service.transition(session, reference, to_state, actor=_actor(staff), role=_role(staff),
                                    note=note, assignee=service.assignee_id(assignee))
    audit.record(session, staff, action, "appeal", appeal.reference,
                 {"to_state": appeal.status, "assignee": appeal.assignee})
    return _detail(appeal, staff)


@router.post("/api/appeals/{reference}/transition", response_model=AppealDetail,
             summary="办理一步（按流程；不允许的一步返回 409 和原因）")
def transition(reference: str, body: TransitionIn, staff: StaffPrincipal = Depends(current_staff)) -> dict:
    with session_scope() as session:
        return _step(session, staff, "appeal_transition", reference, body.to_state, body.note, body.assignee)


@router.post("/api/appeals/{reference}/notes", response_model=AppealDetail,
             summary="添加工作人员记录（如老兵来电说的情况；不给承办人派待办，办结后也可以记）")
def add_note(reference: str, body: NoteIn, staff: StaffPrincipal = Depends(current_staff)) -> dict:
    with session_scope() as session:
        try:
            service.add_staff_note(session, reference, body.text, actor=_actor(staff), role=_role(staff))
        except service.AppealError as error:
            raise _refusal(error) from None
        except ValueError:
            raise HTTPException(400, "请写上内容。") from None
        appeal = _find(session, reference)
        session.refresh(appeal)
        audit.record(session, staff, "appeal_note", "appeal", appeal.reference)
        return _detail(appeal, staff)


@router.post("/api/appeals/{reference}/assign", response_model=AppealDetail,
             summary="派单给承办单位或人员（流程中要写明承办的那一步，如 已受理 → 已派单）")
def assign(reference: str, body: AssignIn, staff: StaffPrincipal = Depends(current_staff)) -> dict:
    workflow = load_workflow()
    with session_scope() as session:
        appeal = _find(session, reference)
        step = next((t for t in workflow.next_states(appeal.status) if t.assignee_required), None)
        if step is None:
            steps = "、".join(f"“{workflow.state(t.source).label}”" for t in workflow.transitions
                             if t.assignee_required)
            raise HTTPException(409, f"诉求 {appeal.reference} 现在是“{workflow.state(appeal.status).label}”，"
                                     f"不能派单。{steps}时才能派单。")
        return _step(session, staff, "appeal_assign", reference, step.target, body.note, body.assignee)


@router.post("/api/appeals/{reference}/extend", response_model=AppealDetail,
             summary="延期（管理员批准，按流程配置；会通知老兵）")
def extend(reference: str, body: ExtendIn, staff: StaffPrincipal = Depends(require_admin)) -> dict:
    with session_scope() as session:
        with _refused():
            appeal = service.extend(session, reference, days=body.days, reason=body.reason,
                                    approver=_actor(staff), role=_role(staff))
        audit.record(session, staff, "appeal_extend", "appeal", appeal.reference,
                     {"days": body.days, "deadline": appeal.deadline.isoformat()})
        return _detail(appeal, staff)


@router.get("/appeals", include_in_schema=False)
def appeals_page(staff: StaffPrincipal = Depends(current_staff)) -> FileResponse:
    return FileResponse(PAGE)
