"""Access rules over EVERY route of create_app(), found by walking app.routes, so a route added later
is covered without touching this file:

- anonymous: 401 {"detail": "请先登录"} for /api/…; a page (GET outside /api/) sends the browser to
  /login (303) — except the explicit PUBLIC allow-list below;
- an unsafe method (POST/PUT/PATCH/DELETE) without the X-CSRF-Token header: 403, even for an admin;
- a route for admins (tag "admin", or require_admin anywhere in its dependencies): 403 for a 接线员.

No request here reaches a handler of a protected route: each is refused before it runs. A new public
route must be added to PUBLIC on purpose (and be safe without a login)."""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from fastapi.routing import APIRoute
from starlette.routing import Mount, Route, WebSocketRoute

from console.auth import ADMIN_ONLY, CSRF_FAILED, NOT_LOGGED_IN, require_admin
from tests.console.conftest import ConsoleTestClient, login, make_account

PUBLIC_PATHS = {"/api/health", "/api/login", "/api/openapi.json", "/login", "/chat", "/api/chat/config"}
PUBLIC_PREFIXES = ("/static/", "/chat/")
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
_names = itertools.count(1)


@dataclass(frozen=True)
class Probe:
    method: str
    path: str  # as declared, e.g. /api/users/{username}/disable
    admin: bool

    @property
    def url(self) -> str:
        return re.sub(r"{[^}]+}", "1", self.path)

    @property
    def is_page(self) -> bool:
        return self.method == "GET" and not self.path.startswith("/api/")

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or (path + "/").startswith(PUBLIC_PREFIXES)


def _depends_on(dependant, call) -> bool:
    return any(sub.call is call or _depends_on(sub, call) for sub in dependant.dependencies)


def probes(app) -> tuple[list[Probe], list[str]]:
    """Every (method, path) of the app that needs a login, and the routes this test cannot probe."""
    found, unknown = [], []
    for route in app.routes:
        if isinstance(route, Mount):
            if not is_public(route.path + "/"):
                unknown.append(f"mount {route.path}")
            continue
        if isinstance(route, WebSocketRoute):
            if not is_public(route.path):
                unknown.append(f"websocket {route.path}")
            continue
        if not isinstance(route, Route) or is_public(route.path):
            continue
        admin = isinstance(route, APIRoute) and ("admin" in route.tags or _depends_on(route.dependant, require_admin))
        found += [Probe(method, route.path, admin) for method in sorted(route.methods or ()) if method != "HEAD"]
    return found, unknown


def _logged_in(app, role: str) -> ConsoleTestClient:
    username = f"access{role}{next(_names)}"
    make_account(username, role)
    client = ConsoleTestClient(app)
    answer = login(client, username)
    assert answer.status_code == 200, answer.text
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return client


def _detail(response) -> str | None:
    try:
        return response.json().get("detail")
    except ValueError:
        return None


def access_problems(app) -> list[str]:
    """What breaks the rules above, one line each (empty when every route is protected)."""
    found, problems = probes(app)
    anonymous = ConsoleTestClient(app)
    operator, admin = _logged_in(app, "operator"), _logged_in(app, "admin")
    for probe in found:
        answer = anonymous.request(probe.method, probe.url, follow_redirects=False)
        if probe.is_page:
            if answer.status_code != 303 or not answer.headers.get("location", "").startswith("/login"):
                problems.append(f"{probe}: anonymous got {answer.status_code}, not a redirect to /login")
        elif (answer.status_code, _detail(answer)) != (401, NOT_LOGGED_IN):
            problems.append(f"{probe}: anonymous got {answer.status_code}, not 401")
        if probe.method in UNSAFE:
            answer = admin.request(probe.method, probe.url, headers={"X-CSRF-Token": ""})
            if (answer.status_code, _detail(answer)) != (403, CSRF_FAILED):
                problems.append(f"{probe}: without the CSRF header got {answer.status_code}, not 403")
        if probe.admin:
            answer = operator.request(probe.method, probe.url, follow_redirects=False)
            if (answer.status_code, _detail(answer)) != (403, ADMIN_ONLY):
                problems.append(f"{probe}: a 接线员 got {answer.status_code} on an admin route, not 403")
    return problems


def test_every_route_needs_a_login_csrf_and_the_right_role(console_app):
    found, _ = probes(console_app)
    assert {str(probe) for probe in found} >= {"GET /api/me", "POST /api/logout", "GET /api/users", "GET /users"}
    assert {str(probe) for probe in found if probe.admin} >= {"GET /api/users", "POST /api/users", "GET /api/audit"}
    assert access_problems(console_app) == []


def test_the_public_routes_answer_without_a_login(console_client):
    assert console_client.get("/api/health").json() == {"status": "ok"}
    assert console_client.get("/api/openapi.json").status_code == 200
    assert console_client.get("/login").status_code == 200


def test_an_unprotected_or_half_protected_route_is_reported(console_db):
    """The check itself: routes added without the dependencies must show up as problems."""
    from fastapi import Depends

    from console.app import create_app
    from console.auth import current_staff

    app = create_app()

    @app.get("/api/leak")
    def leak() -> dict:
        return {}

    @app.post("/api/admin-thing", tags=["admin"])
    def admin_thing(staff=Depends(current_staff)) -> dict:  # tagged admin, but any 接线员 gets in
        return {}

    @app.get("/reports")
    def reports_page() -> dict:
        return {}

    problems = access_problems(app)
    assert problems == ["GET /api/leak: anonymous got 200, not 401",
                        "POST /api/admin-thing: a 接线员 got 200 on an admin route, not 403",
                        "GET /reports: anonymous got 200, not a redirect to /login"]
