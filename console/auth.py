"""Staff authentication for the console: argon2id passwords, server-side sessions, CSRF tokens,
and the login rate limit.

CONTRACT (used by every console route):

- `current_staff` — FastAPI dependency: the logged-in staff member from the session cookie, or
  401 {"detail": "请先登录"}. A page (a GET outside /api/) is redirected to /login instead (303),
  so a browser lands on the login form. On POST/PUT/PATCH/DELETE it also requires the
  X-CSRF-Token header to equal the session's CSRF token, else 403 {"detail": "页面已过期，请刷新后重试"}.
- `require_admin` — as current_staff, and 403 {"detail": "需要管理员权限"} for a 接线员.

The cookie holds a random token; the database holds only its SHA-256 (a copied database opens no
session). A session ends after settings().console_session_idle_minutes without a request, after
console_session_max_hours in any case, at logout, and at once when the account is disabled.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyCookie
from sqlalchemy import delete, func, or_, select

from console.models import ADMIN, LoginAttempt, StaffSession, StaffUser
from vetbot.settings import settings
from vetbot.storage import session_scope, utcnow

COOKIE_NAME = "vetbot_console"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MIN_PASSWORD_LENGTH = 10

# Rate limit: failures in a sliding window. Per account it is strict; per address looser, because
# the whole hotline office usually reaches the console from one address.
ATTEMPT_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_IP = 20
ATTEMPTS_KEPT = timedelta(days=30)  # the audit log keeps every login for good; this table only counts
# last_seen is written at most this often (each write takes SQLite's write lock).
LAST_SEEN_RESOLUTION = timedelta(seconds=30)

NOT_LOGGED_IN = "请先登录"
CSRF_FAILED = "页面已过期，请刷新后重试"
ADMIN_ONLY = "需要管理员权限"

# argon2id with the library's current defaults (tests swap in lighter parameters: ~1 s a hash here).
PASSWORD_HASHER = PasswordHasher()
# Verified against when the username is unknown, so a wrong name costs as long as a wrong password.
_dummy_hashes: dict[int, str] = {}
# Declares the cookie in the OpenAPI document (security scheme); the check itself is below.
_cookie_scheme = APIKeyCookie(name=COOKIE_NAME, auto_error=False, description="登录后由 /api/login 设置")


@dataclass(frozen=True)
class StaffPrincipal:
    id: int
    username: str
    display_name: str
    role: str  # console.models.OPERATOR / ADMIN

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN


# ---- passwords ---------------------------------------------------------------------------------

def hash_password(password: str) -> str:
    return PASSWORD_HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return PASSWORD_HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return PASSWORD_HASHER.check_needs_rehash(password_hash)


def _dummy_hash() -> str:
    key = id(PASSWORD_HASHER)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = hash_password(secrets.token_hex(16))
    return _dummy_hashes[key]


# ---- sessions ----------------------------------------------------------------------------------

def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session, user: StaffUser) -> tuple[str, str]:
    """A new login for `user` (in the caller's transaction): returns (cookie token, CSRF token).
    Expired sessions and month-old login attempts are swept at the same time."""
    now = utcnow()
    _sweep(session, now)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(StaffSession(token_hash=token_hash(token), user_id=user.id, csrf_token=csrf,
                             created_at=now, last_seen=now,
                             expires_at=now + timedelta(hours=settings().console_session_max_hours)))
    return token, csrf


def end_session(session, token_digest: str) -> None:
    session.execute(delete(StaffSession).where(StaffSession.token_hash == token_digest))


def end_user_sessions(session, user_id: int) -> int:
    """Log the user out everywhere (disabled account, new password). Returns how many ended."""
    return session.execute(delete(StaffSession).where(StaffSession.user_id == user_id)).rowcount


def _idle_limit() -> timedelta:
    return timedelta(minutes=settings().console_session_idle_minutes)


def _sweep(session, now: datetime) -> None:
    session.execute(delete(StaffSession).where(
        or_(StaffSession.expires_at <= now, StaffSession.last_seen <= now - _idle_limit())))
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - ATTEMPTS_KEPT))


def _live_session(token: str) -> tuple[StaffPrincipal, str, str] | None:
    """(principal, CSRF token, token hash) of a live session with an active account, else None.
    An expired session is deleted; last_seen moves on."""
    digest = token_hash(token)
    now = utcnow()
    with session_scope() as session:
        row = session.execute(select(StaffSession, StaffUser).join(StaffUser, StaffUser.id == StaffSession.user_id)
                              .where(StaffSession.token_hash == digest)).first()
        if row is None:
            return None
        staff_session, user = row
        if staff_session.expires_at <= now or staff_session.last_seen <= now - _idle_limit():
            session.delete(staff_session)
            return None
        if not user.active:
            return None
        if now - staff_session.last_seen >= LAST_SEEN_RESOLUTION:
            staff_session.last_seen = now
        principal = StaffPrincipal(user.id, user.username, user.display_name, user.role)
        return principal, staff_session.csrf_token, digest


def _is_page(request: Request) -> bool:
    return request.method == "GET" and not request.url.path.startswith("/api/")


def current_staff(request: Request, token: str | None = Depends(_cookie_scheme)) -> StaffPrincipal:
    live = _live_session(token) if token else None
    if live is None:
        if _is_page(request):
            target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe="")
            raise HTTPException(303, NOT_LOGGED_IN, headers={"Location": f"/login?next={target}"})
        raise HTTPException(401, NOT_LOGGED_IN)
    principal, csrf, digest = live
    if request.method in UNSAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), csrf.encode()):
            raise HTTPException(403, CSRF_FAILED)
    request.state.staff_session = digest  # for logout
    request.state.csrf_token = csrf  # for GET /api/me
    return principal


def require_admin(staff: StaffPrincipal = Depends(current_staff)) -> StaffPrincipal:
    if staff.role != ADMIN:
        raise HTTPException(403, ADMIN_ONLY)
    return staff


# ---- login -------------------------------------------------------------------------------------

def too_many_failures(session, username: str, ip: str) -> bool:
    """Refused attempts count too (they are recorded as failures), so whoever keeps trying while
    locked out stays locked out until 15 minutes pass without an attempt — as the message says."""
    since = utcnow() - ATTEMPT_WINDOW
    failed = select(func.count()).select_from(LoginAttempt).where(LoginAttempt.ok.is_(False),
                                                                  LoginAttempt.at > since)
    by_user = session.execute(failed.where(LoginAttempt.username == username)).scalar_one()
    by_ip = session.execute(failed.where(LoginAttempt.ip == ip)).scalar_one()
    return by_user >= MAX_FAILURES_PER_USER or by_ip >= MAX_FAILURES_PER_IP


def check_credentials(session, username: str, password: str) -> StaffUser | None:
    """The account if the password is right (rehashed when the hasher's parameters changed)."""
    user = session.execute(select(StaffUser).where(StaffUser.username == username)).scalar_one_or_none()
    if user is None:
        verify_password(_dummy_hash(), password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user
