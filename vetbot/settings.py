"""Every setting of the assistant, in one typed place, with the embedded defaults for one machine.

`settings()` reads the environment each time it is called (it is cheap), so a test or a command
that sets a variable is seen at once. A malformed value stops with an error naming the variable,
rather than being silently replaced by a default. Nothing else in the project reads os.environ for
its own settings (libraries' variables such as OMP_NUM_THREADS are theirs).

| variable | default | what |
|---|---|---|
| VETBOT_DATA_DIR | ./var | models, indexes, SQLite files, keys, logs |
| VETBOT_DATABASE_URL | SQLite in the data dir | shared storage (bookings, outbox, …); PostgreSQL to scale out |
| VETBOT_REDIS_URL | none | dedupe / token cache / options across instances |
| VETBOT_PII_KEY | pii.key in the data dir | secret for ID hashes and sealed slot values |
| VETBOT_HOTLINE | 12345 … | the number a veteran is given for a person |
| VETBOT_KB_MIN_DENSE, VETBOT_KB_MIN_BM25 | calibrated | answer thresholds of the knowledge search |
| VETBOT_ANN_THRESHOLD | 50000 | passages above which the dense index is HNSW |
| VETBOT_EMBEDDING_MODEL | converted e5-small | another sentence-transformers model (a local path) |
| VETBOT_TORCH_THREADS | cores, at most 4 | threads of the embedder |
| VETBOT_WARM_UP | 0 | 1: the action server loads the knowledge base at start |
| VETBOT_MAX_MESSAGE_CHARS | 500 | a longer message is cut before NLU (vetbot/message_cap.py) |
| CONSOLE_PORT | 8080 | the staff console (console/) |
| CONSOLE_SESSION_IDLE_MINUTES, CONSOLE_SESSION_MAX_HOURS | 30, 12 | a staff login ends after this idle time / this age |
| CONSOLE_COOKIE_SECURE | 0 | 1: the login cookie is sent over HTTPS only (set it behind TLS) |
| VETBOT_STAFF_HOURS | 08:30-17:00 | when staff answer (working days); outside, the hand-over gives the hotline |
| VETBOT_CHAT_SOCKET_URL | same host, port $RASA_PORT | where the browser of /chat reaches Rasa's socket.io |
| VETBOT_RASA_URL | http://127.0.0.1:$RASA_PORT | the Rasa server the console talks to (HTTP API) |
| RASA_API_TOKEN | rasa_api_token in the data dir | the token of Rasa's HTTP API (scripts/run.sh makes one) |
| VETBOT_EVENTS_URL | events.sqlite3 in the data dir | the database of Rasa's SQL event broker (endpoints.yml) |
| WECHAT_TOKEN, WECHAT_ENCODING_AES_KEY, WECHAT_APP_ID, WECHAT_APP_SECRET, WECHAT_API_BASE_URL | empty / api.weixin.qq.com | the official account |
| WECHAT_REPLY_BUDGET, WECHAT_DEDUPE_TTL, WECHAT_MAX_BODY_BYTES, WECHAT_OUTBOX_INTERVAL, WECHAT_OUTBOX_SENDER | 4 s, 600 s, 64 KiB, 15 s, 1 | WeChat channel tunables |
| WECHAT_TEMPLATE_NOTICE, WECHAT_TEMPLATE_<KIND>, WECHAT_NOTICE_FIELD | none, content | template messages outside the 48-hour window |
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, TypeVar

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HOTLINE = "12345（政务服务热线，请说转平湖市退役军人事务局）"
DEFAULT_WECHAT_API = "https://api.weixin.qq.com"
T = TypeVar("T")


class SettingsError(ValueError):
    """A variable with a value that cannot be used; the message names it."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None
    pii_key: str | None
    hotline: str
    kb_min_dense: float | None
    kb_min_bm25: float | None
    ann_threshold: int
    embedding_model: str | None
    torch_threads: int | None
    warm_up: bool
    max_message_chars: int
    console_port: int
    console_session_idle_minutes: int
    console_session_max_hours: int
    console_cookie_secure: bool
    staff_hours: str
    chat_socket_url: str | None
    rasa_url: str
    rasa_api_token: str | None
    events_url: str
    wechat_token: str
    wechat_encoding_aes_key: str
    wechat_app_id: str
    wechat_app_secret: str
    wechat_api_base_url: str
    wechat_reply_budget: float
    wechat_dedupe_ttl: int
    wechat_max_body_bytes: int
    wechat_outbox_interval: float
    wechat_outbox_sender: bool
    wechat_notice_field: str
    wechat_templates: dict[str, str]


def settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = _Env(os.environ if environ is None else environ)
    data_dir = Path(env.text("VETBOT_DATA_DIR") or PROJECT_ROOT / "var")
    return Settings(
        data_dir=data_dir,
        database_url=env.text("VETBOT_DATABASE_URL") or f"sqlite:///{data_dir / 'vetbot.sqlite3'}",
        redis_url=env.text("VETBOT_REDIS_URL"),
        pii_key=env.text("VETBOT_PII_KEY"),
        hotline=env.text("VETBOT_HOTLINE") or DEFAULT_HOTLINE,
        kb_min_dense=env.number("VETBOT_KB_MIN_DENSE", float, None),
        kb_min_bm25=env.number("VETBOT_KB_MIN_BM25", float, None),
        ann_threshold=env.number("VETBOT_ANN_THRESHOLD", int, 50000),
        embedding_model=env.text("VETBOT_EMBEDDING_MODEL"),
        torch_threads=env.number("VETBOT_TORCH_THREADS", int, None),
        warm_up=env.flag("VETBOT_WARM_UP", False),
        max_message_chars=env.number("VETBOT_MAX_MESSAGE_CHARS", int, 500),
        console_port=env.number("CONSOLE_PORT", int, 8080),
        console_session_idle_minutes=env.number("CONSOLE_SESSION_IDLE_MINUTES", int, 30),
        console_session_max_hours=env.number("CONSOLE_SESSION_MAX_HOURS", int, 12),
        console_cookie_secure=env.flag("CONSOLE_COOKIE_SECURE", False),
        staff_hours=env.text("VETBOT_STAFF_HOURS") or "08:30-17:00",
        chat_socket_url=env.text("VETBOT_CHAT_SOCKET_URL"),
        rasa_url=(env.text("VETBOT_RASA_URL") or f"http://127.0.0.1:{env.text('RASA_PORT') or 5005}").rstrip("/"),
        rasa_api_token=env.text("RASA_API_TOKEN") or _file_text(data_dir / "rasa_api_token"),
        events_url=env.text("VETBOT_EVENTS_URL") or f"sqlite:///{data_dir / 'events.sqlite3'}",
        wechat_token=env.text("WECHAT_TOKEN") or "",
        wechat_encoding_aes_key=env.text("WECHAT_ENCODING_AES_KEY") or "",
        wechat_app_id=env.text("WECHAT_APP_ID") or "",
        wechat_app_secret=env.text("WECHAT_APP_SECRET") or "",
        wechat_api_base_url=(env.text("WECHAT_API_BASE_URL") or DEFAULT_WECHAT_API).rstrip("/"),
        wechat_reply_budget=env.number("WECHAT_REPLY_BUDGET", float, 4.0),
        wechat_dedupe_ttl=env.number("WECHAT_DEDUPE_TTL", int, 600),
        wechat_max_body_bytes=env.number("WECHAT_MAX_BODY_BYTES", int, 64 * 1024),
        wechat_outbox_interval=env.number("WECHAT_OUTBOX_INTERVAL", float, 15.0),
        wechat_outbox_sender=env.flag("WECHAT_OUTBOX_SENDER", True),
        wechat_notice_field=env.text("WECHAT_NOTICE_FIELD") or "content",
        wechat_templates=env.templates("WECHAT_TEMPLATE_"),
    )


def _file_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


class _Env:
    FALSE, TRUE = ("0", "false", "no", "off"), ("1", "true", "yes", "on")

    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ

    def text(self, name: str) -> str | None:
        return (self.environ.get(name) or "").strip() or None

    def number(self, name: str, kind: Callable[[str], T], default: T) -> T:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            return kind(float(raw)) if kind is int and float(raw).is_integer() else kind(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r}: should be a number") from None

    def flag(self, name: str, default: bool) -> bool:
        raw = (self.text(name) or "").lower()
        if not raw:
            return default
        if raw not in self.FALSE + self.TRUE:
            raise SettingsError(f"{name}={raw!r}: should be 1 or 0")
        return raw in self.TRUE

    def templates(self, prefix: str) -> dict[str, str]:
        """WECHAT_TEMPLATE_NOTICE is the fallback; WECHAT_TEMPLATE_<KIND> overrides it per kind."""
        return {name[len(prefix):].lower(): value.strip() for name, value in self.environ.items()
                if name.startswith(prefix) and value.strip()}
