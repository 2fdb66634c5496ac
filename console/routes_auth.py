"""Console API and pages for logging in and out, the staff member's own session (/api/me), the
admin's account management (/api/users, page /users) and the audit log (/api/audit)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from console import audit
from console.app import STATIC_DIR
from console.auth import (COOKIE_NAME, StaffPrincipal, check_credentials, current_staff, end_session,
                          open_session, require_admin, too_many_failures)
from console.models import ROLE_NAMES, LoginAttempt
from console.types import as_utc
from console.users import UserError, add_user, disable_user, list_users, normalize_username, reset_password
from vetbot.settings import settings
from vetbot.storage import session_scope, utcnow

router = APIRouter()

WRONG_LOGIN = "账号或密码不对"
LOCKED_OUT = "尝试次数过多，请15分钟后再试"
DISABLED = "这个账号已停用，请联系管理员"
JSON_ONLY = "请求格式不对，请刷新页面后重试"


# ---- models ------------------------------------------------------------------------------------

class LoginRequest(BaseModel):
    username: str = Field(..., max_length=64, description="账号名")
    password: str = Field(..., max_length=256, description="密码")


class Me(BaseModel):
    username: str
    display_name: str
    role: str = Field(..., description="operator（接线员）或 admin（管理员）")
    role_name: str = Field(..., description="接线员 / 管理员")
    csrf_token: str = Field(..., description="改动数据的请求要放在请求头 X-CSRF-Token 里")


class Message(BaseModel):
    detail: str


class UserOut(BaseModel):
    username: str
    display_name: str
    role: str
    role_name: str
    active: bool
    created_at: datetime


class UserCreate(BaseModel):
    username: str = Field(..., max_length=64)
    display_name: str = Field(..., max_length=64)
    role: str = Field("operator", description="operator（接线员）或 admin（管理员）")
    password: str = Field(..., max_length=256, description="至少 10 个字符")


class PasswordReset(BaseModel):
    password: str = Field(..., max_length=256, description="至少 10 个字符")


class AuditEntry(BaseModel):
    id: int
    at: datetime
    username: str
    action: str
    target_type: Optional[str]
    target_id: Optional[str]
    detail: Optional[dict]


class AuditPage(BaseModel):
    items: list[AuditEntry]
    total: int = Field(..., description="符合条件的总条数")
    limit: int
    offset: int


ERRORS = {401: {"model": Message, "description": "请先登录"}, 403: {"model": Message}}


def _me(staff: StaffPrincipal, csrf: str) -> Me:
    return Me(username=staff.username, display_name=staff.display_name, role=staff.role,
              role_name=ROLE_NAMES.get(staff.role, staff.role), csrf_token=csrf)


def _user_out(user) -> UserOut:
    return UserOut(username=user.username, display_name=user.display_name, role=user.role,
                   role_name=ROLE_NAMES.get(user.role, user.role), active=user.active, created_at=user.created_at)


def _json_only(request: Request) -> None:
    """A cross-site HTML form can post urlencoded or text/plain bodies, never application/json."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise HTTPException(415, JSON_ONLY)


# ---- login / logout / me -----------------------------------------------------------------------

@router.post("/api/login", response_model=Me, tags=["auth"], summary="登录（成功时设置会话 Cookie）",
             dependencies=[Depends(_json_only)],
             responses={401: {"model": Message}, 403: {"model": Message}, 415: {"model": Message},
                        429: {"model": Message, "description": "尝试次数过多"}})
def login(body: LoginRequest, request: Request, response: Response) -> Me:
    username = normalize_username(body.username)
    ip = request.client.host if request.client else "-"
    outcome, result = _attempt_login(username, body.password, ip)
    if outcome == "locked":
        raise HTTPException(429, LOCKED_OUT)
    if outcome == "disabled":
        raise HTTPException(403, DISABLED)
    if outcome == "wrong":
        raise HTTPException(401, WRONG_LOGIN)
    principal, token, csrf = result
    response.set_cookie(COOKIE_NAME, token, httponly=True, samesite="strict", path="/",
                        secure=settings().console_cookie_secure)
    return _me(principal, csrf)


def _attempt_login(username: str, password: str, ip: str):
    """One login attempt, recorded and audited in one transaction: ("ok", (principal, token, csrf))
    or ("locked" | "disabled" | "wrong", None)."""
    with session_scope() as session:
        if too_many_failures(session, username, ip):
            session.add(LoginAttempt(username=username, ip=ip, at=utcnow(), ok=False))
            audit.record(session, "-", "login_blocked", "user", None, {"ip": ip})
            return "locked", None
        user = check_credentials(session, username, password)
        session.add(LoginAttempt(username=username, ip=ip, at=utcnow(), ok=user is not None))
        if user is None:
            # The name typed is kept only when it is an account: a password typed into the name
            # field must not land in the audit log.
            known = _is_account(session, username)
            audit.record(session, username if known else "-", "login_failed", "user",
                         username if known else None, {"ip": ip})
            return "wrong", None
        if not user.active:
            audit.record(session, user.username, "login_failed", "user", user.username,
                         {"ip": ip, "reason": "disabled"})
            return "disabled", None
        token, csrf = open_session(session, user)
        audit.record(session, user.username, "login", "user", user.username, {"ip": ip})
        principal = StaffPrincipal(user.id, user.username, user.display_name, user.role)
        return "ok", (principal, token, csrf)


def _is_account(session, username: str) -> bool:
    from console.users import get_user

    try:
        get_user(session, username)
    except UserError:
        return False
    return True


@router.post("/api/logout", response_model=Message, tags=["auth"], summary="退出登录", responses=ERRORS)
def logout(request: Request, response: Response, staff: StaffPrincipal = Depends(current_staff)) -> Message:
    with session_scope() as session:
        end_session(session, request.state.staff_session)
        audit.record(session, staff, "logout", "user", staff.username)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict",
                           secure=settings().console_cookie_secure)
    return Message(detail="已退出")


@router.get("/api/me", response_model=Me, tags=["auth"], summary="当前登录的工作人员和 CSRF 令牌",
            responses=ERRORS)
def me(request: Request, staff: StaffPrincipal = Depends(current_staff)) -> Me:
    return _me(staff, request.state.csrf_token)


# ---- accounts (admin) --------------------------------------------------------------------------

def _refuse(error: UserError) -> HTTPException:
    return HTTPException(400, str(error))


@router.get("/api/users", response_model=list[UserOut], tags=["admin"], summary="全部工作人员账号",
            responses=ERRORS)
def users(_: StaffPrincipal = Depends(require_admin)) -> list[UserOut]:
    with session_scope() as session:
        return [_user_out(user) for user in list_users(session)]


@router.post("/api/users", response_model=UserOut, status_code=201, tags=["admin"], summary="新建账号",
             responses={**ERRORS, 400: {"model": Message}})
def create_user(body: UserCreate, staff: StaffPrincipal = Depends(require_admin)) -> UserOut:
    try:
        with session_scope() as session:
            user = add_user(session, body.username, body.display_name, body.role, body.password, by=staff)
            return _user_out(user)
    except UserError as error:
        raise _refuse(error) from None


@router.post("/api/users/{username}/disable", response_model=UserOut, tags=["admin"], summary="停用账号（立即退出）",
             responses={**ERRORS, 400: {"model": Message}})
def disable(username: str, staff: StaffPrincipal = Depends(require_admin)) -> UserOut:
    if normalize_username(username) == staff.username:
        raise HTTPException(400, "不能停用自己的账号")
    try:
        with session_scope() as session:
            disable_user(session, username, by=staff)
            return _user_out(_get(session, username))
    except UserError as error:
        raise _refuse(error) from None


@router.post("/api/users/{username}/reset-password", response_model=UserOut, tags=["admin"],
             summary="重设密码（该账号需重新登录）", responses={**ERRORS, 400: {"model": Message}})
def reset(username: str, body: PasswordReset, staff: StaffPrincipal = Depends(require_admin)) -> UserOut:
    try:
        with session_scope() as session:
            reset_password(session, username, body.password, by=staff)
            return _user_out(_get(session, username))
    except UserError as error:
        raise _refuse(error) from None


def _get(session, username: str):
    from console.users import get_user

    return get_user(session, username)


# ---- audit (admin) -----------------------------------------------------------------------------

@router.get("/api/audit", response_model=AuditPage, tags=["admin"], summary="操作记录（新的在前）",
            responses=ERRORS)
def audit_log(username: Optional[str] = Query(None, max_length=64, description="工作人员账号"),
              action: Optional[str] = Query(None, max_length=32, description="如 login、view_transcript"),
              since: Optional[datetime] = Query(None, description="从这个时间起（含），ISO 格式"),
              limit: int = Query(50, ge=1, le=200), offset: int = Query(0, ge=0, le=1_000_000),
              _: StaffPrincipal = Depends(require_admin)) -> AuditPage:
    since = as_utc(since)
    with session_scope() as session:
        rows, total = audit.search(session, username=normalize_username(username) if username else None,
                                   action=action, since=since, limit=limit, offset=offset)
        items = [AuditEntry(id=row.id, at=row.at, username=row.username, action=row.action,
                            target_type=row.target_type, target_id=row.target_id, detail=row.detail)
                 for row in rows]
    return AuditPage(items=items, total=total, limit=limit, offset=offset)


# ---- pages -------------------------------------------------------------------------------------

@router.get("/login", include_in_schema=False)
def login_page():
    return FileResponse(STATIC_DIR / "login.html", media_type="text/html; charset=utf-8")


@router.get("/users", include_in_schema=False)
def users_page(_: StaffPrincipal = Depends(require_admin)):
    return FileResponse(STATIC_DIR / "users.html", media_type="text/html; charset=utf-8")
