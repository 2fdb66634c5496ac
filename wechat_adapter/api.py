"""HTTP client for the WeChat server API (token, customer-service, template, menu)."""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp

from vetbot.config import subdir
from wechat_adapter.settings import WeChatSettings
from wechat_adapter.store import KeyValueStore
from wechat_adapter.token_cache import FileTokenBackend, StoreTokenBackend, TokenCache

logger = logging.getLogger(__name__)

# The token is invalid/expired: refresh once and retry once.
TOKEN_ERRORS = {40001, 40014, 42001}
OUTSIDE_48H_WINDOW = 45015
CUSTOMER_SERVICE_QUOTA = 45047


class WeChatAPIError(Exception):
    def __init__(self, errcode: int, errmsg: str = "") -> None:
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WeChatUnavailable(WeChatAPIError):
    """Network failure or non-JSON/5xx answer: worth retrying later."""

    def __init__(self, detail: str) -> None:
        super().__init__(-1, detail)


class WeChatAPI:
    def __init__(
        self,
        base_url: str,
        app_id: str,
        app_secret: str,
        token_backend=None,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self.app_secret = app_secret
        self.timeout = timeout
        backend = token_backend or FileTokenBackend(subdir("wechat") / f"access_token-{app_id or 'unset'}.json")
        self.tokens = TokenCache(self.fetch_token, backend)
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(cls, settings: WeChatSettings, shared_store: KeyValueStore | None = None) -> "WeChatAPI":
        backend = None
        if shared_store is not None:
            backend = StoreTokenBackend(shared_store, f"wechat:access_token:{settings.app_id}")
        return cls(settings.api_base_url, settings.app_id, settings.app_secret, backend)

    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def _request(self, method: str, path: str, params: dict, payload: Any = None) -> dict:
        session = await self._http()
        data = None
        headers = {}
        if payload is not None:
            # ensure_ascii=False: WeChat shows \uXXXX escapes literally instead of Chinese.
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            async with session.request(method, self.base_url + path, params=params, data=data, headers=headers) as response:
                body = await response.read()
                if response.status >= 500:
                    raise WeChatUnavailable(f"HTTP {response.status} from {path}")
        except aiohttp.ClientError as error:
            raise WeChatUnavailable(f"{type(error).__name__} calling {path}") from None
        except asyncio.TimeoutError:
            raise WeChatUnavailable(f"timeout calling {path}") from None
        try:
            result = json.loads(body.decode("utf-8"))
        except ValueError:
            raise WeChatUnavailable(f"non-JSON answer from {path}") from None
        errcode = int(result.get("errcode") or 0)
        if errcode != 0:
            raise WeChatAPIError(errcode, str(result.get("errmsg", "")))
        return result

    async def fetch_token(self) -> tuple[str, int]:
        if not (self.app_id and self.app_secret):
            raise WeChatAPIError(41002, "WECHAT_APP_ID / WECHAT_APP_SECRET not configured")
        result = await self._request(
            "GET",
            "/cgi-bin/token",
            {"grant_type": "client_credential", "appid": self.app_id, "secret": self.app_secret},
        )
        return str(result["access_token"]), int(result.get("expires_in") or 7200)

    async def call(self, path: str, payload: Any) -> dict:
        """POST with the cached token; on a token error refresh once and retry once."""
        token = await self.tokens.get()
        try:
            return await self._request("POST", path, {"access_token": token}, payload)
        except WeChatAPIError as error:
            if error.errcode not in TOKEN_ERRORS:
                raise
            logger.warning("WeChat rejected the access_token (%s); refreshing once", error.errcode)
        token = await self.tokens.refresh(stale=token)
        return await self._request("POST", path, {"access_token": token}, payload)

    async def send_text(self, openid: str, content: str) -> dict:
        return await self.call(
            "/cgi-bin/message/custom/send",
            {"touser": openid, "msgtype": "text", "text": {"content": content}},
        )

    async def send_template(self, openid: str, template_id: str, data: dict, url: str | None = None) -> dict:
        payload: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": data}
        if url:
            payload["url"] = url
        return await self.call("/cgi-bin/message/template/send", payload)

    async def create_menu(self, menu: dict) -> dict:
        return await self.call("/cgi-bin/menu/create", menu)
