"""Console logins: passwords, sessions and their expiry, CSRF, the rate limit, the account API,
the audit log API and the pages of console/routes_auth.py."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, update

from console.auth import COOKIE_NAME, MAX_FAILURES_PER_IP, MAX_FAILURES_PER_USER
from console.models import LoginAttempt, StaffAudit, StaffSession, StaffUser
from tests.console.conftest import STAFF_PASSWORD, ConsoleTestClient, login, make_account
from vetbot.storage import session_scope, utcnow


def _sessions() -> list[StaffSession]:
    with session_scope() as session:
        return list(session.execute(select(StaffSession)).scalars())


def _audit(action: str) -> list[StaffAudit]:
    with session_scope() as session:
        return list(session.execute(select(StaffAudit).where(StaffAudit.action == action)
                                    .order_by(StaffAudit.id)).scalars())


def _move_sessions(**changes) -> None:
    with session_scope() as session:
        session.execute(update(StaffSession).values(**changes))


# ---- login, cookie, session storage ------------------------------------------------------------

def test_login_sets_a_strict_http_only_cookie_whose_token_is_stored_only_as_its_hash(console_client):
    make_account("wang", "admin", "王五")
    answer = login(console_client, "Wang ")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["username"], body["display_name"], body["role"], body["role_name"]) == ("wang", "王五", "admin", "管理员")
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie
    token = console_client.cookies[COOKIE_NAME]
    [stored] = _sessions()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (stored.token_hash, stored.csrf_token)
    assert stored.csrf_token == body["csrf_token"]
    me = console_client.get("/api/me")
    assert me.status_code == 200 and me.json()["csrf_token"] == body["csrf_token"]
    assert [row.username for row in _audit("login")] == ["wang"]


def test_cookie_is_secure_when_the_setting_says_so(console_client, monkeypatch):
    monkeypatch.setenv("CONSOLE_COOKIE_SECURE", "1")
    make_account("wang")
    assert "Secure" in login(console_client, "wang").headers["set-cookie"]


def test_passwords_are_argon2id_and_rehashed_when_the_parameters_changed(console_client, monkeypatch):
    monkeypatch.setattr("console.auth.PASSWORD_HASHER", PasswordHasher())  # the production defaults
    make_account("wang")
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(STAFF_PASSWORD)
    with session_scope() as session:
        session.execute(update(StaffUser).values(password_hash=weak))
    assert login(console_client, "wang").status_code == 200
    with session_scope() as session:
        stored = session.execute(select(StaffUser.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and stored != weak
    assert not PasswordHasher().check_needs_rehash(stored)


def test_wrong_password_and_unknown_name_get_the_same_answer_and_are_audited_without_the_name(console_client):
    make_account("wang")
    wrong = login(console_client, "wang", "not-the-password")
    unknown = login(console_client, "my-secret-password-typed-here", STAFF_PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "账号或密码不对"}
    assert COOKIE_NAME not in console_client.cookies
    failed = _audit("login_failed")
    assert [(row.username, row.target_id) for row in failed] == [("wang", "wang"), ("-", None)]
    assert "my-secret" not in str([row.detail for row in failed])


def test_login_only_takes_a_json_body(console_client):
    """A cross-site form can send urlencoded or text/plain bodies, so those are refused."""
    make_account("wang")
    form = console_client.post("/api/login", data={"username": "wang", "password": STAFF_PASSWORD})
    plain = console_client.post("/api/login", content=f'{{"username":"wang","password":"{STAFF_PASSWORD}"}}',
                                headers={"Content-Type": "text/plain"})
    assert form.status_code == plain.status_code == 415
    assert COOKIE_NAME not in console_client.cookies
    assert _sessions() == []


def test_disabled_account_cannot_log_in(console_client):
    make_account("wang")
    from console.users import disable_user

    with session_scope() as session:
        disable_user(session, "wang")
    answer = login(console_client, "wang")
    assert answer.status_code == 403 and answer.json() == {"detail": "这个账号已停用，请联系管理员"}


# ---- CSRF --------------------------------------------------------------------------------------

def test_unsafe_requests_need_the_sessions_csrf_token(staff_client):
    client = staff_client()
    token = client.headers.pop("X-CSRF-Token")
    missing = client.post("/api/logout")
    wrong = client.post("/api/logout", headers={"X-CSRF-Token": token[:-2] + "xx"})
    assert missing.status_code == wrong.status_code == 403
    assert missing.json() == {"detail": "页面已过期，请刷新后重试"}
    assert len(_sessions()) == 1  # still logged in
    assert client.get("/api/me").status_code == 200  # a GET needs no token
    assert client.post("/api/logout", headers={"X-CSRF-Token": token}).status_code == 200


def test_another_sessions_csrf_token_does_not_do(staff_client):
    first, second = staff_client(), staff_client()
    answer = first.post("/api/logout", headers={"X-CSRF-Token": second.staff["csrf_token"]})
    assert answer.status_code == 403


# ---- session end -------------------------------------------------------------------------------

def test_logout_deletes_the_session(staff_client):
    client = staff_client()
    assert client.post("/api/logout").status_code == 200
    assert _sessions() == []
    assert client.get("/api/me").status_code == 401
    assert [row.action for row in _audit("logout")] == ["logout"]


def test_an_idle_session_expires(staff_client, monkeypatch):
    monkeypatch.setenv("CONSOLE_SESSION_IDLE_MINUTES", "30")
    client = staff_client()
    _move_sessions(last_seen=utcnow() - timedelta(minutes=29))
    assert client.get("/api/me").status_code == 200
    [alive] = _sessions()
    assert utcnow() - alive.last_seen < timedelta(minutes=1)  # the request moved last_seen on
    _move_sessions(last_seen=utcnow() - timedelta(minutes=31))
    answer = client.get("/api/me")
    assert answer.status_code == 401 and answer.json() == {"detail": "请先登录"}
    assert _sessions() == []


def test_a_session_ends_at_its_maximum_age_even_when_used(staff_client, monkeypatch):
    monkeypatch.setenv("CONSOLE_SESSION_MAX_HOURS", "12")
    client = staff_client()
    [stored] = _sessions()
    assert timedelta(hours=11, minutes=59) < stored.expires_at - stored.created_at <= timedelta(hours=12)
    _move_sessions(expires_at=utcnow() - timedelta(seconds=1))
    assert client.get("/api/me").status_code == 401


def test_disabling_an_account_logs_it_out_at_once(staff_client):
    operator, admin = staff_client(), staff_client("admin")
    assert operator.get("/api/me").status_code == 200
    assert admin.post(f"/api/users/{operator.staff['username']}/disable").status_code == 200
    assert operator.get("/api/me").status_code == 401


def test_an_inactive_account_with_a_live_session_is_refused(staff_client):
    """Even if its sessions were not deleted (an account switched off in the database)."""
    client = staff_client()
    with session_scope() as session:
        session.execute(update(StaffUser).values(active=False))
    assert len(_sessions()) == 1
    assert client.get("/api/me").status_code == 401


def test_a_login_sweeps_expired_sessions_and_month_old_attempts(staff_client):
    first = staff_client()
    _move_sessions(last_seen=utcnow() - timedelta(hours=1))
    with session_scope() as session:
        session.add(LoginAttempt(username="x", ip="1.2.3.4", at=utcnow() - timedelta(days=31), ok=False))
        session.add(LoginAttempt(username="x", ip="1.2.3.4", at=utcnow() - timedelta(days=29), ok=False))
    second = staff_client()
    assert [row.user_id for row in _sessions()] == [_user_id(second.staff["username"])]
    assert _attempts() == 3  # the two logins and the 29-day-old attempt
    assert first.get("/api/me").status_code == 401


def _user_id(username: str) -> int:
    with session_scope() as session:
        return session.execute(select(StaffUser.id).where(StaffUser.username == username)).scalar_one()


# ---- rate limit --------------------------------------------------------------------------------

def _attempts() -> int:
    with session_scope() as session:
        return session.execute(select(func.count()).select_from(LoginAttempt)).scalar_one()


def test_too_many_failures_lock_the_account_even_with_the_right_password(console_client):
    make_account("wang")
    for _ in range(MAX_FAILURES_PER_USER):
        assert login(console_client, "wang", "wrong-password").status_code == 401
    locked = login(console_client, "wang")
    assert locked.status_code == 429 and locked.json() == {"detail": "尝试次数过多，请15分钟后再试"}
    assert COOKIE_NAME not in console_client.cookies
    assert _attempts() == MAX_FAILURES_PER_USER + 1
    assert len(_audit("login_blocked")) == 1
    # Another account from the same address is not locked by these few failures.
    make_account("li")
    assert login(console_client, "li").status_code == 200
    # Fifteen minutes later the account opens again.
    with session_scope() as session:
        session.execute(update(LoginAttempt).values(at=utcnow() - timedelta(minutes=16)))
    assert login(console_client, "wang").status_code == 200


def test_too_many_failures_from_one_address_lock_every_account(console_client):
    make_account("wang")
    for n in range(MAX_FAILURES_PER_IP):
        assert login(console_client, f"guess{n}", "wrong-password").status_code == 401
    assert login(console_client, "wang").status_code == 429


def test_failures_below_the_limit_do_not_lock(console_client):
    make_account("wang")
    for _ in range(MAX_FAILURES_PER_USER - 1):
        login(console_client, "wang", "wrong-password")
    assert login(console_client, "wang").status_code == 200


# ---- accounts API (admin) ----------------------------------------------------------------------

def test_admin_manages_accounts_and_each_change_is_audited(staff_client, console_app):
    admin = staff_client("admin", username="boss")
    created = admin.post("/api/users", json={"username": "Zhang", "display_name": "张三", "role": "operator",
                                             "password": "zhang-pass-1234"})
    assert created.status_code == 201
    assert created.json()["username"] == "zhang" and created.json()["role_name"] == "接线员"
    assert [u["username"] for u in admin.get("/api/users").json()] == ["boss", "zhang"]

    zhang = ConsoleTestClient(console_app)
    assert login(zhang, "zhang", "zhang-pass-1234").status_code == 200
    reset = admin.post("/api/users/zhang/reset-password", json={"password": "new-pass-56789"})
    assert reset.status_code == 200
    assert zhang.get("/api/me").status_code == 401  # the new password ended the old login
    assert login(zhang, "zhang", "zhang-pass-1234").status_code == 401
    assert login(zhang, "zhang", "new-pass-56789").status_code == 200

    disabled = admin.post("/api/users/zhang/disable")
    assert disabled.status_code == 200 and disabled.json()["active"] is False
    assert zhang.get("/api/me").status_code == 401

    for action in ("user_add", "user_reset_password", "user_disable"):
        [row] = [row for row in _audit(action) if row.target_id == "zhang"]
        assert row.username == "boss"
    assert "zhang-pass" not in str([row.detail for row in _audit("user_add")])


@pytest.mark.parametrize("body, message", [
    ({"username": "zhang", "display_name": "张三", "password": "short"}, "密码至少要 10 个字符。"),
    ({"username": "张三", "display_name": "张三", "password": "long-enough-1"}, "账号名"),
    ({"username": "zhang", "display_name": "张三", "role": "boss", "password": "long-enough-1"}, "角色只能是"),
    ({"username": "boss", "display_name": "张三", "password": "long-enough-1"}, "账号 boss 已经有了。"),
])
def test_account_refusals_are_one_chinese_sentence(staff_client, body, message):
    admin = staff_client("admin", username="boss")
    answer = admin.post("/api/users", json=body)
    assert answer.status_code == 400 and answer.json()["detail"].startswith(message)


def test_admin_cannot_disable_themselves_and_unknown_accounts_are_named(staff_client):
    admin = staff_client("admin", username="boss")
    assert admin.post("/api/users/boss/disable").json() == {"detail": "不能停用自己的账号"}
    assert admin.post("/api/users/nobody/disable").json() == {"detail": "没有账号 nobody。"}


# ---- audit API ---------------------------------------------------------------------------------

def test_audit_is_newest_first_filtered_and_paginated(staff_client):
    from console import audit

    admin = staff_client("admin", username="boss")
    with session_scope() as session:
        for n in range(5):
            audit.record(session, "li", "view_transcript", "conversation", f"c{n}")
    page = admin.get("/api/audit", params={"username": "li", "limit": 2, "offset": 1}).json()
    assert page["total"] == 5
    assert [item["target_id"] for item in page["items"]] == ["c3", "c2"]
    logins = admin.get("/api/audit", params={"action": "login"}).json()
    assert [item["username"] for item in logins["items"]] == ["boss"]
    later = (utcnow() + timedelta(minutes=1)).isoformat()
    assert admin.get("/api/audit", params={"since": later}).json()["total"] == 0


# ---- pages -------------------------------------------------------------------------------------

def test_login_page_is_public_and_users_page_is_for_admins(console_client, staff_client):
    page = console_client.get("/login")
    assert page.status_code == 200 and "登录" in page.text and page.headers["content-type"].startswith("text/html")
    anonymous = console_client.get("/users", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login?next=%2Fusers"
    assert staff_client().get("/users").status_code == 403
    admin_page = staff_client("admin").get("/users")
    assert admin_page.status_code == 200 and "工作人员账号" in admin_page.text
    assert console_client.get("/static/common.js").status_code == 200
