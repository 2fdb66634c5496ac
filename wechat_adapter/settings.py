"""Settings of the WeChat adapter: the five credentials plus tunables from the environment.

credentials.yml passes the credentials (Rasa expands ${WECHAT_*} there); everything may also
come straight from the environment, which is what the CLI and the outbox sender use.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping

DEFAULT_API_BASE_URL = "https://api.weixin.qq.com"

# credentials.yml key -> environment variable
CREDENTIAL_ENV = {
    "token": "WECHAT_TOKEN",
    "encoding_aes_key": "WECHAT_ENCODING_AES_KEY",
    "app_id": "WECHAT_APP_ID",
    "app_secret": "WECHAT_APP_SECRET",
    "api_base_url": "WECHAT_API_BASE_URL",
}


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        return float(raw) if raw else default
    except ValueError:
        return default


def _int_env(name: str, default: int) -> int:
    return int(_float_env(name, default))


@dataclass
class WeChatSettings:
    token: str = ""
    encoding_aes_key: str = ""
    app_id: str = ""
    app_secret: str = ""
    api_base_url: str = DEFAULT_API_BASE_URL
    # Seconds the bot may take before we give up on the passive reply (WeChat waits 5 s).
    reply_budget: float = 4.0
    # How long MsgIds, answers and delivery claims are remembered (WeChat retries for ~15 s).
    dedupe_ttl: int = 600
    # How long "reply 1/2/3" keeps meaning the buttons of the last answer.
    options_ttl: int = 24 * 3600
    max_body_bytes: int = 64 * 1024
    # Pause before sending the overflow parts of a long passive answer, so they arrive after it.
    overflow_delay: float = 0.5
    outbox_interval: float = 15.0
    outbox_enabled: bool = True
    templates: dict[str, str] = field(default_factory=dict)

    @property
    def configured(self) -> bool:
        """Without a token nothing can be verified: the channel then answers 503."""
        return bool(self.token)

    @property
    def api_configured(self) -> bool:
        return bool(self.app_id and self.app_secret)

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any] | None) -> "WeChatSettings":
        credentials = credentials or {}

        def pick(key: str) -> str:
            value = credentials.get(key)
            if value is None or str(value).strip() == "":
                value = os.environ.get(CREDENTIAL_ENV[key], "")
            return str(value or "").strip()

        return cls(
            token=pick("token"),
            encoding_aes_key=pick("encoding_aes_key"),
            app_id=pick("app_id"),
            app_secret=pick("app_secret"),
            api_base_url=(pick("api_base_url") or DEFAULT_API_BASE_URL).rstrip("/"),
            reply_budget=float(credentials.get("reply_budget") or _float_env("WECHAT_REPLY_BUDGET", 4.0)),
            dedupe_ttl=_int_env("WECHAT_DEDUPE_TTL", 600),
            max_body_bytes=_int_env("WECHAT_MAX_BODY_BYTES", 64 * 1024),
            outbox_interval=_float_env("WECHAT_OUTBOX_INTERVAL", 15.0),
            outbox_enabled=os.environ.get("WECHAT_OUTBOX_SENDER", "1").strip() not in ("0", "false", "no"),
            templates=template_ids_from_env(),
        )

    @classmethod
    def from_env(cls) -> "WeChatSettings":
        return cls.from_credentials({})


def template_ids_from_env() -> dict[str, str]:
    """WECHAT_TEMPLATE_NOTICE is the fallback; WECHAT_TEMPLATE_<KIND> overrides it per kind."""
    templates = {}
    for name, value in os.environ.items():
        if name.startswith("WECHAT_TEMPLATE_") and value.strip():
            templates[name[len("WECHAT_TEMPLATE_"):].lower()] = value.strip()
    return templates
