"""OpenAPI fuzz run over the console's API (/api/openapi.json): every operation gets requests made
from its own schema — valid ones and broken ones (a required field missing, a wrong type, huge or
odd strings, numbers past SQLite's range, bodies that are not JSON) — as an admin (session cookie
and CSRF header) and anonymously. No answer may be a server error (5xx), a dropped connection or
a Python traceback, and none may carry the ID number or the phone we sent in clear.

Our own small generator: schemathesis 3.x does not fit Rasa's pins (3.19-3.21 want pytest < 8,
3.22+ jsonschema >= 4.18, 3.23+ anyio < 4), and hypothesis-jsonschema is not among our pins. It is
seeded (VETBOT_FUZZ_SEED) and bounded by examples per operation and by a time budget."""
from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import quote

import httpx
import pytest
from pydantic import BaseModel, Field

SEED = int(os.environ.get("VETBOT_FUZZ_SEED", "20261202"))
EXAMPLES = int(os.environ.get("VETBOT_FUZZ_EXAMPLES", "25"))  # per operation and mode
BUDGET = float(os.environ.get("VETBOT_FUZZ_SECONDS", "150"))  # per mode
REQUEST_TIMEOUT = 60

# Personal data a veteran might give; the API must never hand it back in clear.
RAW_ID = "330482196508121234"  # a valid 18-digit ID (its check digit right), Pinghu area code
RAW_PHONE = "13957312468"
ODD_STRINGS = [
    "", " ", "平湖", "我想问一下优待证怎么办", RAW_PHONE, RAW_ID, f"我的手机{RAW_PHONE}，身份证{RAW_ID}",
    "6JP9FLW", "a" * 3000, "长" * 20000, "'; DROP TABLE staff_users;--", "<script>alert(1)</script>",
    "../../etc/passwd", "%00", "\x00", "\u202e", "😀👍", "{{7*7}}", "%s%n", "null", "-1", "0",
    "1e400", "2026-13-45", "2026-02-29", "1900-01-01", "9999-12-31T23:59:59", "true", "\n\r\t",
]
PERSONAL = [RAW_PHONE, RAW_ID, f"我的手机{RAW_PHONE}，身份证{RAW_ID}"]
ODD_INTS = [0, 1, 2, -1, 7, 100, 10**6, 2**31, 2**63, -(2**63) - 1, 10**30]
ODD_NUMBERS = [0.0, -1.5, 0.5, 1e308, -1e308, 3.14159]


# --- the schema side ------------------------------------------------------------------------------

def resolve(schema: dict, spec: dict, depth: int = 0) -> dict:
    """Follows $ref and merges allOf (FastAPI wraps a referenced model's field in allOf)."""
    if depth > 20 or not isinstance(schema, dict):
        return schema if isinstance(schema, dict) else {}
    if "$ref" in schema:
        target = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return resolve({**target, **{k: v for k, v in schema.items() if k != "$ref"}}, spec, depth + 1)
    if "allOf" in schema:
        merged: dict = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part = resolve(part, spec, depth + 1)
            merged.setdefault("properties", {}).update(part.get("properties", {}))
            merged["required"] = sorted(set(merged.get("required", [])) | set(part.get("required", [])))
            for key, value in part.items():
                if key not in ("properties", "required"):
                    merged.setdefault(key, value)
        return merged
    return schema


def generate(schema: dict, spec: dict, rng: random.Random, depth: int = 0):
    """A value the schema allows (mostly: constraints beyond type, enum, bounds and lengths are
    not honoured, which makes some 'valid' values invalid — as good for fuzzing)."""
    schema = resolve(schema, spec)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return rng.choice(schema["enum"])
    if "example" in schema and rng.random() < 0.3:
        return schema["example"]
    if "default" in schema and rng.random() < 0.2:
        return schema["default"]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return generate(rng.choice(schema[key]), spec, rng, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = rng.choice(kind)
    if kind is None:
        kind = "object" if "properties" in schema else rng.choice(["string", "integer", "object"])
    if depth > 6 and kind in ("object", "array"):
        return None
    if kind == "string":
        return _string(schema, rng)
    if kind == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None or high is not None:
            low = int(low if low is not None else high - 100)
            high = int(high if high is not None else low + 100)
            return rng.choice([low, high, rng.randint(low, high)])
        return rng.choice(ODD_INTS)
    if kind == "number":
        return rng.choice(ODD_NUMBERS)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "array":
        return [generate(schema.get("items", {}), spec, rng, depth + 1) for _ in range(rng.randint(0, 3))]
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    return {name: generate(sub, spec, rng, depth + 1) for name, sub in properties.items()
            if name in required or rng.random() < 0.6}


def _string(schema: dict, rng: random.Random) -> str:
    fmt = schema.get("format")
    if fmt == "date":
        return rng.choice(["2026-12-09", "2026-01-01", "2027-02-29", "1999-12-31", "2026-12-31"])
    if fmt == "date-time":
        return rng.choice(["2026-12-09T09:30:00", "2026-12-09T09:30:00+08:00", "2026-01-01T00:00:00Z"])
    if fmt == "binary":
        return "x"
    roll = rng.random()
    text = rng.choice(PERSONAL) if roll < 0.15 else rng.choice(ODD_STRINGS) if roll < 0.75 else "".join(
        rng.choice("平湖退役军人0123456789abcXYZ -_") for _ in range(rng.randint(1, 30)))
    low, high = schema.get("minLength"), schema.get("maxLength")
    if rng.random() < 0.7:  # mostly within the bounds, sometimes just past them
        if low is not None and len(text) < low:
            text = (text or "平") * low
        if high is not None and len(text) > high:
            text = text[:high]
    return text


@dataclass
class Operation:
    method: str
    path: str
    parameters: list[dict]
    body_schema: dict | None = None
    body_type: str | None = None  # application/json, multipart/form-data, application/x-www-form-urlencoded
    body_required: bool = False

    @property
    def name(self) -> str:
        return f"{self.method.upper()} {self.path}"


def operations(spec: dict) -> list[Operation]:
    found = []
    for path, item in spec.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            params = [resolve(p, spec) for p in shared + op.get("parameters", [])]
            body = resolve(op.get("requestBody", {}), spec)
            content = body.get("content", {})
            body_type = next(iter(content), None)
            found.append(Operation(method, path, params, content.get(body_type, {}).get("schema") if body_type
                                   else None, body_type, body.get("required", False)))
    return found


# --- the request side -----------------------------------------------------------------------------

FILE_BODIES = [  # what an upload field gets: plain text, and files whose contents lie about their type
    ("政策.txt", "第一条 退役军人优待证由县级退役军人事务部门发放。".encode(), "text/plain"),
    ("政策.md", "# 标题\n\n第一条 内容".encode(), "text/markdown"),
    ("broken.pdf", b"%PDF-1.4\n%garbage that is not a pdf", "application/pdf"),
    ("broken.docx", b"PK\x03\x04 not really a zip",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("empty.txt", b"", "text/plain"),
    ("gbk.txt", "第一条 平湖".encode("gbk"), "text/plain"),
    ("program.exe", b"MZ\x90\x00", "application/octet-stream"),
]
URL_TEXT = 600  # longest text put in a URL (httpx refuses a component over 64 KiB; browsers cut too)
MUTATIONS = ("drop_required", "wrong_type", "not_an_object", "broken_json", "huge_string", "odd_param")


def build_request(op: Operation, spec: dict, rng: random.Random, mutation: str | None,
                  known: dict[str, list] | None = None) -> dict:
    """The keyword arguments of one httpx request for this operation. `known`: values seen in
    earlier answers by key (id, reference …): a path parameter often takes one, so detail pages
    and changes of records that exist are reached, not only their 404."""
    url = op.path
    query: dict = {}
    for param in op.parameters:
        schema = param.get("schema", {})
        odd = mutation == "odd_param" and rng.random() < 0.6
        seen = _known_values(param["name"], known or {})
        if odd:
            value = rng.choice(ODD_STRINGS + [str(i) for i in ODD_INTS])
        elif param.get("in") == "path" and seen and rng.random() < 0.7:
            value = rng.choice(seen)
        elif param.get("in") == "path" and resolve(schema, spec).get("type") == "integer" and rng.random() < 0.5:
            value = rng.randint(1, 3)  # the first records of a table
        else:
            value = generate(schema, spec, rng)
        if isinstance(value, str):
            value = value[:URL_TEXT]
        if param.get("in") == "path":
            if value is None or value == "":
                value = "0"
            text = "x" if isinstance(value, (dict, list)) else str(value).lower() if isinstance(value, bool) \
                else str(value)
            url = url.replace("{" + param["name"] + "}", quote(text, safe=""))
        elif param.get("in") == "query" and (param.get("required") or rng.random() < 0.7):
            if value is not None:
                query[param["name"]] = _query_value(value)
    request: dict = {"method": op.method.upper(), "url": url, "params": query}
    if op.body_schema is None:
        return request
    body = generate(op.body_schema, spec, rng)
    if isinstance(body, dict) and mutation:
        body = _mutate(body, op, spec, rng, mutation)
    if op.body_type == "multipart/form-data":
        files, data = {}, {}
        props = resolve(op.body_schema, spec).get("properties", {})
        for name, value in (body.items() if isinstance(body, dict) else []):
            if resolve(props.get(name, {}), spec).get("format") == "binary" or \
                    resolve(props.get(name, {}), spec).get("items", {}).get("format") == "binary":
                files[name] = rng.choice(FILE_BODIES)
            else:
                data[name] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        request.update(files=files or None, data=data or None)
    elif op.body_type == "application/x-www-form-urlencoded":
        request["data"] = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()} \
            if isinstance(body, dict) else {"x": str(body)}
    elif mutation == "broken_json":
        request.update(content=b'{"text": "\xe5\xb9\xb3', headers={"content-type": "application/json"})
    elif mutation == "not_an_object":
        request["json"] = rng.choice([[], "平湖", 0, None, [body]])
    else:
        request["json"] = body
    return request


ID_KEYS = re.compile(r"(^|_)(id|ids|reference|ref|ticket|ticket_no|username|sender|sender_id)$")


def _query_value(value):
    """How a value travels in a query string: a list as the key repeated, the rest as text."""
    if isinstance(value, list):
        return [_query_value(item) for item in value[:3]]
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False)
    return str(value)[:URL_TEXT] if value is not None else ""


def _known_values(name: str, known: dict[str, list]) -> list:
    values = list(known.get(name, []))
    if name.endswith("_id") or name in ("ref", "reference", "ticket"):
        values += known.get("id", []) + known.get(name.removesuffix("_id"), [])
    return values


def remember(payload, known: dict[str, list], depth: int = 0) -> None:
    """Collects identifier-like values (key id, *_id, reference …) from a JSON answer."""
    if depth > 6:
        return
    if isinstance(payload, dict):
        for key, value in payload.items():
            if isinstance(value, (str, int)) and not isinstance(value, bool) and ID_KEYS.search(key):
                bucket = known.setdefault(key, [])
                if value not in bucket and len(bucket) < 50:
                    bucket.append(value)
            else:
                remember(value, known, depth + 1)
    elif isinstance(payload, list):
        for item in payload[:50]:
            remember(item, known, depth + 1)


def _mutate(body: dict, op: Operation, spec: dict, rng: random.Random, mutation: str) -> dict:
    schema = resolve(op.body_schema, spec)
    body = dict(body)
    if mutation == "drop_required" and schema.get("required"):
        body.pop(rng.choice(schema["required"]), None)
    elif mutation == "wrong_type" and body:
        body[rng.choice(list(body))] = rng.choice([{"a": 1}, [1, 2], 2**63, "平湖", True, None, -1.5])
    elif mutation == "huge_string" and body:
        body[rng.choice(list(body))] = "长" * 200_000
    return body


# --- the run --------------------------------------------------------------------------------------

@dataclass
class Report:
    mode: str
    operations: int = 0
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        codes = ", ".join(f"{code}×{count}" for code, count in sorted(self.statuses.items()))
        return (f"fuzz [{self.mode}] operations={self.operations} requests={self.requests} "
                f"failures={len(self.failures)} in {self.seconds:.0f}s ({codes})")


TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"/.*\.py\", line \d+")
AUTH_OPERATIONS = re.compile(r"/auth/|/login|/logout|/session", re.I)


# Answers read from what is stored masked (the audit log; conversations and transcripts, fed by
# the masking event broker and staff replies masked on the way in) must never show a number in
# clear. Elsewhere an error may quote the caller's own input back to that caller (没有“…”这个状态).
MASKED_PATHS = re.compile(r"^/api/(audit|conversations)\b")


def check_response(request: dict, response: httpx.Response) -> str | None:
    """Why this answer is a failure, or None."""
    try:
        body = response.text[:100_000]
    except httpx.ResponseNotRead:  # an event stream: its status and head are what we check
        body = ""
    sent = request.get("json", request.get("data"))
    where = f"{request['method']} {request['url']} {request.get('params') or ''}" + \
        (f" body={json.dumps(sent, ensure_ascii=False)[:150]}" if sent is not None else "")
    if response.status_code >= 500 and not _deliberate_unavailable(response):
        return f"{where} -> {response.status_code}: {body[:300]}"
    if TRACEBACK.search(body):
        return f"{where} -> {response.status_code} shows a traceback: {body[:300]}"
    if MASKED_PATHS.search(request["url"]):
        for raw in (RAW_ID, RAW_PHONE):
            if raw in body:
                return f"{where} -> {response.status_code} shows {raw[:3]}… in clear: {body[:300]}"
    return None


def _deliberate_unavailable(response: httpx.Response) -> bool:
    """A 503 the console chose to give, with a Chinese reason (政策库正在加载…), is an answer, not a crash."""
    if response.status_code != 503 or "json" not in response.headers.get("content-type", ""):
        return False
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError, httpx.ResponseNotRead):
        return False
    return isinstance(detail, str) and re.search(r"[\u4e00-\u9fff]", detail) is not None


def _send(client: httpx.Client, request: dict) -> httpx.Response:
    """One request; sent again once if the kept-alive connection was closed under it (uvicorn
    closes it after a 500, which is reported already)."""
    for attempt in (1, 2):
        try:
            return _read(client, client.build_request(**request, timeout=REQUEST_TIMEOUT))
        except (httpx.ReadError, httpx.RemoteProtocolError):
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _read(client: httpx.Client, request: httpx.Request) -> httpx.Response:
    """The whole answer, except of an event stream (the live feed never ends): its head only."""
    response = client.send(request, stream=True)
    try:
        if "text/event-stream" not in response.headers.get("content-type", ""):
            response.read()
        return response
    finally:
        response.close()


def fuzz(client: httpx.Client, spec: dict, mode: str, budget: float = BUDGET, examples: int = EXAMPLES,
         csrf: Callable[[], dict] | None = None, relogin: Callable[[], None] | None = None,
         seed: int = SEED) -> Report:
    """Sends up to `examples` requests per operation within `budget` seconds. `csrf` gives the
    headers a logged-in request carries; `relogin` restores the session when a request ended it
    (the fuzz may well call logout)."""
    rng = random.Random(f"{seed}-{mode}")
    ops = operations(spec)
    # Logging in and out last, so a rate-limited or ended session cannot starve the other operations.
    # Lists (GET) before changes, a collection before its records: answers feed later path values.
    ops.sort(key=lambda op: (bool(AUTH_OPERATIONS.search(op.path)), op.path,
                             ["get", "post", "put", "patch", "delete"].index(op.method)))
    report = Report(mode, operations=len(ops))
    known: dict[str, list] = {}
    started = time.monotonic()

    def one(op: Operation, mutation: str | None) -> None:
        request = build_request(op, spec, rng, mutation, known)
        if csrf:
            request["headers"] = {**csrf(), **request.get("headers", {})}
        report.requests += 1
        try:
            response = _send(client, request)
        except httpx.HTTPError as error:  # a dropped connection or a hang is a server failure too
            report.failures.append(f"{request['method']} {request['url']} -> {type(error).__name__}: {error}")
            return
        report.statuses[response.status_code] += 1
        if response.is_success and "json" in response.headers.get("content-type", ""):
            with contextlib.suppress(ValueError):
                remember(response.json(), known)
        problem = check_response(request, response)
        if problem:
            report.failures.append(f"[{op.name}, {mutation or 'valid'}] {problem}")
        if relogin and response.status_code == 401:
            relogin()

    for index, op in enumerate(ops):
        op_deadline = time.monotonic() + (budget - (time.monotonic() - started)) / (len(ops) - index)
        for example in range(examples):
            if time.monotonic() > op_deadline:
                break
            one(op, None if example % 2 == 0 else MUTATIONS[(example // 2) % len(MUTATIONS)])
    # Read back: every list once more, to see what the changes above stored (the audit log is
    # listed before the operations that write to it).
    for op in ops:
        if op.method == "get" and "{" not in op.path and not AUTH_OPERATIONS.search(op.path):
            one(op, None)
    report.seconds = time.monotonic() - started
    return report


# --- fast: the fuzzer finds what it should, on a small app of its own ------------------------------

class ToyNote(BaseModel):  # module level: the annotations are strings FastAPI resolves here
    text: str = Field(max_length=500)
    urgent: bool = False


def _toy_app(planted_bug: bool):
    from fastapi import FastAPI, HTTPException

    from booking.pii import redact

    app = FastAPI(openapi_url="/api/openapi.json")

    @app.get("/api/items")
    def items(limit: int = 20, q: str = "") -> dict:
        if planted_bug and limit > 2**31:
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        return {"items": [{"id": 57, "title": "评残"}], "limit": max(0, min(limit, 100))}

    audit: list[str] = []

    @app.post("/api/items/{item_id}/notes")
    def add_note(item_id: int, note: ToyNote) -> dict:
        if item_id != 57:  # reached only with the id the list gave
            raise HTTPException(404, "没有这条记录")
        audit.append(note.text if planted_bug else redact(note.text))
        return {"ok": True, "text": note.text}  # the caller's own words back: allowed

    @app.get("/api/audit")
    def audit_log() -> dict:
        return {"items": audit[-20:]}

    return app


@contextlib.contextmanager
def _serving(app):
    """The app under a real uvicorn in a thread (starlette 0.27's TestClient does not run on our
    httpx 0.28), as the console is served."""
    import uvicorn

    from tests.support.stack import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.mark.parametrize("planted_bug", [False, True])
def test_fuzzer_finds_server_errors_and_clear_personal_data(planted_bug):
    with _serving(_toy_app(planted_bug)) as url, httpx.Client(base_url=url) as client:
        spec = client.get("/api/openapi.json").json()
        report = fuzz(client, spec, "toy", budget=20, examples=40)
    print(report.line())
    assert report.operations == 3 and report.requests == 120 + 2  # and the two lists read back
    assert report.statuses[422] > 0  # the broken requests got through to validation
    if not planted_bug:
        assert report.failures == []
    else:  # a number past SQLite's range reaches the code; the audit keeps a phone in clear
        assert any("-> 500" in f for f in report.failures), report.failures
        assert any("in clear" in f for f in report.failures), report.failures


def test_requests_follow_the_schema():
    spec = {"paths": {"/api/x/{ref}": {"post": {
        "parameters": [{"name": "ref", "in": "path", "required": True, "schema": {"type": "string"}},
                       {"name": "page", "in": "query", "required": True, "schema": {"type": "integer", "minimum": 1,
                                                                                  "maximum": 9}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/B"}}}},
    }}}, "components": {"schemas": {"B": {"type": "object", "required": ["kind"], "properties": {
        "kind": {"enum": ["a", "b"]}, "when": {"type": "string", "format": "date"}}}}}}
    rng = random.Random(1)
    (op,) = operations(spec)
    for _ in range(30):
        request = build_request(op, spec, rng, None)
        assert request["url"].startswith("/api/x/") and "{ref}" not in request["url"]
        assert 1 <= int(request["params"]["page"]) <= 9
        assert request["json"]["kind"] in ("a", "b")
    dropped = [build_request(op, spec, rng, "drop_required")["json"] for _ in range(10)]
    assert all("kind" not in body for body in dropped)


# --- slow: the real console beside the real stack ---------------------------------------------------

@pytest.fixture(scope="module")
def fuzz_console(live_stack):
    """A console process of its own beside the shared stack: its own database and knowledge copy
    (the fuzz disables accounts, uploads documents, trips the login rate limit), the stack's
    Rasa and event broker."""
    from tests.support.console_server import start_console
    from tests.support.stack import BIN, ROOT

    stack = live_stack[1]
    data_dir = Path(tempfile.mkdtemp(prefix="vetbot-fuzz-"))
    (data_dir / "models").symlink_to(Path(stack.env["VETBOT_DATA_DIR"]) / "models")
    shutil.copytree(Path(stack.env["VETBOT_DATA_DIR"]) / "kb", data_dir / "kb", symlinks=False)
    (data_dir / "logs").mkdir()
    env = {"VETBOT_DATA_DIR": str(data_dir), "VETBOT_DATABASE_URL": "",
           "VETBOT_EVENTS_URL": stack.env.get("VETBOT_EVENTS_URL")
           or f"sqlite:///{stack.env['VETBOT_DATA_DIR']}/events.sqlite3"}
    full_env = {**stack.env, **env}
    subprocess.run([str(BIN / "vetbot"), "db", "upgrade"], cwd=ROOT, env=full_env, check=True, capture_output=True)
    with start_console(stack, env) as url:
        yield url, full_env, data_dir
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.mark.stack
@pytest.mark.slow
def test_openapi_fuzz_has_no_server_errors(fuzz_console):
    from tests.support.browser import add_staff, api_login

    url, env, data_dir = fuzz_console
    spec = httpx.get(f"{url}/api/openapi.json", timeout=30).json()
    reports = []
    accounts = iter(range(1, 1000))
    # As an admin first: the anonymous run's wrong logins trip the per-address rate limit.
    with httpx.Client(base_url=url) as admin:
        state: dict = {"csrf": ""}

        def relogin():  # the fuzz may log out or re-password this account: make another
            if state.get("locked"):
                return
            username, password = f"fuzzadmin{next(accounts)}", "Fuzz-pass-2026!"
            add_staff(env, username, password, role="admin")
            try:
                state["csrf"] = api_login(admin, username, password)
            except RuntimeError as refused:  # locked out by the login fuzz just before: go on anonymously
                print(f"fuzz: no new admin session ({refused})")
                state["locked"] = True

        relogin()
        reports.append(fuzz(admin, spec, "admin", csrf=lambda: {"X-CSRF-Token": state["csrf"]}, relogin=relogin))
    with httpx.Client(base_url=url) as anonymous:
        reports.append(fuzz(anonymous, spec, "anonymous"))
    for report in reports:
        print(report.line())
    failures = [f for report in reports for f in report.failures]
    assert len(spec["paths"]) > 1, "the console's API has only its health check so far"
    log_text = "".join(p.read_text(errors="replace") for p in (data_dir / "logs").glob("*.log"))
    errors = Counter(line for line in log_text.splitlines() if re.match(r"^[\w.]+(Error|Exception): ", line))
    leaked = [next(line for line in log_text.splitlines() if raw in line).replace(raw, f"‹{name} in clear›")[:300]
              for name, raw in (("ID", RAW_ID), ("phone", RAW_PHONE)) if raw in log_text]
    problems = failures[:15] + [f"the console's log has personal data in clear: {leaked}"] * bool(leaked)
    assert not problems, (f"{len(failures)} failures, first ones:\n" + "\n".join(problems) +
                          "\nin the console's log:\n" + "\n".join(f"{n}× {e}" for e, n in errors.most_common(10)))
