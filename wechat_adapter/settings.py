"""Settings of the WeChat adapter: the five credentials plus tunables from the environment.

credentials.yml passes the credentials (Rasa expands ${WECHAT_*} there); everything may also
come from the environment through vetbot.settings, which is what the CLI and the outbox sender use.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from vetbot.settings import DEFAULT_WECHAT_API as DEFAULT_API_BASE_URL, settings


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
        """credentials.yml first (Rasa expands ${WECHAT_*} there), the environment (vetbot.settings)
        for what it leaves empty."""
        credentials, env = credentials or {}, settings()

        def pick(key: str) -> str:
            value = credentials.get(key)
            if value is None or str(value).strip() == "":
                value = getattr(env, f"wechat_{key}")
            return str(value or "").strip()

        return cls(
            token=pick("token"),
            encoding_aes_key=pick("encoding_aes_key"),
            app_id=pick("app_id"),
            app_secret=pick("app_secret"),
            api_base_url=(pick("api_base_url") or DEFAULT_API_BASE_URL).rstrip("/"),
            reply_budget=float(credentials.get("reply_budget") or env.wechat_reply_budget),
            dedupe_ttl=env.wechat_dedupe_ttl,
            max_body_bytes=env.wechat_max_body_bytes,
            outbox_interval=env.wechat_outbox_interval,
            outbox_enabled=env.wechat_outbox_sender,
            templates=env.wechat_templates,
        )

    @classmethod
    def from_env(cls) -> "WeChatSettings":
        return cls.from_credentials({})
