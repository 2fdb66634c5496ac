"""Staff accounts: add, list, disable, reset a password — in the caller's session, audited.
Used by `vetbot users …` (console/users_cli.py) and the admin API (console/routes_auth.py).
Every refusal is a UserError whose str() is one Chinese sentence for the staff member."""
from __future__ import annotations

import re

from sqlalchemy import select

from console import audit
from console.auth import MIN_PASSWORD_LENGTH, end_user_sessions, hash_password
from console.models import ADMIN, OPERATOR, ROLE_NAMES, ROLES, StaffUser
from vetbot.storage import utcnow

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,31}$")
_ROLE_WORDS = {**{role: role for role in ROLES}, **{name: role for role, name in ROLE_NAMES.items()}}


class UserError(ValueError):
    """The account change cannot be made; str() says why, in Chinese."""


def normalize_username(username: str) -> str:
    return username.strip().lower()


def parse_role(word: str) -> str:
    """operator / admin, or 接线员 / 管理员."""
    role = _ROLE_WORDS.get(word.strip())
    if role is None:
        raise UserError(f"角色只能是 {OPERATOR}（接线员）或 {ADMIN}（管理员）。")
    return role


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"密码至少要 {MIN_PASSWORD_LENGTH} 个字符。")
    if password != password.strip():
        raise UserError("密码开头或结尾不能是空格。")


def get_user(session, username: str) -> StaffUser:
    user = session.execute(select(StaffUser).where(StaffUser.username == normalize_username(username))
                           ).scalar_one_or_none()
    if user is None:
        raise UserError(f"没有账号 {username}。")
    return user


def add_user(session, username: str, display_name: str, role: str, password: str, by="cli") -> StaffUser:
    username, display_name = normalize_username(username), display_name.strip()
    if not USERNAME_PATTERN.match(username):
        raise UserError("账号名用 2–32 个小写字母、数字或 . _ -，以字母或数字开头。")
    if not display_name or len(display_name) > 32:
        raise UserError("请写姓名（老兵会看到），最多 32 个字。")
    role = parse_role(role)
    check_password(password)
    if session.execute(select(StaffUser.id).where(StaffUser.username == username)).first():
        raise UserError(f"账号 {username} 已经有了。")
    user = StaffUser(username=username, display_name=display_name, role=role,
                     password_hash=hash_password(password), active=True)
    session.add(user)
    session.flush()
    audit.record(session, by, "user_add", "user", username, {"role": role})
    return user


def list_users(session) -> list[StaffUser]:
    return list(session.execute(select(StaffUser).order_by(StaffUser.username)).scalars())


def disable_user(session, username: str, by="cli") -> int:
    """Disable the account and end its sessions; returns how many sessions ended."""
    user = get_user(session, username)
    if not user.active:
        raise UserError(f"账号 {user.username} 已经停用了。")
    user.active = False
    ended = end_user_sessions(session, user.id)
    audit.record(session, by, "user_disable", "user", user.username, {"sessions_ended": ended})
    return ended


def reset_password(session, username: str, password: str, by="cli") -> None:
    """A new password; the account's sessions end (a stolen login dies with the old password)."""
    user = get_user(session, username)
    check_password(password)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    ended = end_user_sessions(session, user.id)
    audit.record(session, by, "user_reset_password", "user", user.username, {"sessions_ended": ended})
