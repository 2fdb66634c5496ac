"""Staff authentication for the console. CONTRACT (the bodies are being written):

- `current_staff` — FastAPI dependency: the logged-in staff member from the session cookie, or
  401 {"detail": "请先登录"}. On POST/PUT/PATCH/DELETE it also requires the X-CSRF-Token header to
  equal the session's CSRF token, else 403.
- `require_admin` — as current_staff, and 403 {"detail": "需要管理员权限"} for a 接线员.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StaffPrincipal:
    id: int
    username: str
    display_name: str
    role: str  # console.models.OPERATOR / ADMIN


def current_staff() -> StaffPrincipal:
    raise NotImplementedError


def require_admin() -> StaffPrincipal:
    raise NotImplementedError
