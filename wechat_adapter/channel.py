"""Rasa input channel for the WeChat official account (公众号).

credentials.yml:

    wechat_adapter.channel.WeChatInput:
      token: ${WECHAT_TOKEN}
      encoding_aes_key: ${WECHAT_ENCODING_AES_KEY}
      app_id: ${WECHAT_APP_ID}
      app_secret: ${WECHAT_APP_SECRET}
      api_base_url: ${WECHAT_API_BASE_URL}

Webhook: /webhooks/wechat/webhook (GET = URL verification, POST = messages and events).
With an empty token the channel answers 503 instead of stopping Rasa from starting.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from wechat_adapter.api import WeChatAPI
from wechat_adapter.dedupe import MessageLedger, message_key
from wechat_adapter.delivery import CustomerServiceCourier
from wechat_adapter.menu import default_click_intents
from wechat_adapter.outbox import Outbox, OutboxSender
from wechat_adapter.protocol import (
    ProtocolError,
    SafeMode,
    SignatureError,
    build_text_reply,
    check_signature,
    parse_xml,
)
from wechat_adapter.replies import OptionMemory, split_text
from wechat_adapter.routing import NOTHING, REPLY, route
from wechat_adapter.settings import WeChatSettings
from wechat_adapter.store import KeyValueStore, RedisStore, make_store
from vetbot.message_cap import capped
from vetbot.rest_channel import apology
from wechat_adapter.turns import CHANNEL_NAME, TurnRunner

logger = logging.getLogger(__name__)


class SafeModeNotConfigured(Exception):
    """WeChat sends encrypted messages but WECHAT_ENCODING_AES_KEY is missing or invalid."""


# Interactions that open WeChat's 48-hour customer-service window (VIEW and unsubscribe do not).
_WINDOW_EVENTS = {"subscribe", "scan", "click", "scancode_push", "scancode_waitmsg"}


class WeChatRuntime:
    """The parts that need a running event loop; built on first use inside Sanic's loop."""

    def __init__(
        self,
        settings: WeChatSettings,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        store: KeyValueStore | None,
        outbox: Outbox | None,
        api: WeChatAPI | None,
    ) -> None:
        self.settings = settings
        self.store = store or make_store()
        self.outbox = outbox or Outbox()
        shared = self.store if isinstance(self.store, RedisStore) else None
        self.api = api or WeChatAPI.from_settings(settings, shared_store=shared)
        self.runner = TurnRunner(
            on_new_message,
            MessageLedger(self.store, ttl=settings.dedupe_ttl),
            OptionMemory(self.store, ttl=settings.options_ttl),
            CustomerServiceCourier(self.api, self.outbox),
            overflow_delay=settings.overflow_delay,
        )
        self.sender = OutboxSender(self.outbox, self.api, settings.templates)
        self._sender_task: asyncio.Task | None = None
        self._touches: set[asyncio.Task] = set()

    def start_sender(self) -> None:
        if self._sender_task or not (self.settings.outbox_enabled and self.settings.api_configured):
            return
        self._sender_task = asyncio.create_task(self._drain_forever())

    async def _drain_forever(self) -> None:
        while True:
            try:
                await self.sender.drain_once()
            except Exception:
                logger.exception("WeChat outbox drain failed")
            await asyncio.sleep(self.settings.outbox_interval)

    def touch(self, openid: str) -> None:
        """Record the interaction for the 48-hour window without delaying the reply."""
        task = asyncio.create_task(self._touch(openid))
        self._touches.add(task)
        task.add_done_callback(self._touches.discard)

    async def _touch(self, openid: str) -> None:
        try:
            await asyncio.to_thread(self.outbox.touch, openid)
        except Exception:
            logger.exception("Could not record the last interaction of %s", openid)

    async def close(self) -> None:
        if self._sender_task:
            self._sender_task.cancel()
            self._sender_task = None
        await self.runner.wait_idle(timeout=10)
        await self.api.close()


class WeChatOutput(OutputChannel):
    """Messages sent to a veteran outside a turn — a staff reply or hand-back note appended through
    Rasa's HTTP API with output_channel=wechat — go out as customer-service messages (the outbox
    takes what the API refuses). A staff reply carries its sender's name in the metadata."""

    def __init__(self, courier: CustomerServiceCourier) -> None:
        self.courier = courier

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        staff = kwargs.get("vetbot_staff")
        await self.courier.send(recipient_id, split_text(f"工作人员{staff}：{text}" if staff else text))


class WeChatInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> "WeChatInput":
        return cls(WeChatSettings.from_credentials(credentials))

    def __init__(
        self,
        settings: WeChatSettings | None = None,
        store: KeyValueStore | None = None,
        outbox: Outbox | None = None,
        api: WeChatAPI | None = None,
        click_intents: dict[str, str] | None = None,
    ) -> None:
        self.settings = settings or WeChatSettings.from_env()
        self._store, self._outbox, self._api = store, outbox, api
        self.click_intents = click_intents if click_intents is not None else default_click_intents()
        self.safe_mode: SafeMode | None = None
        self.runtime: WeChatRuntime | None = None
        self._on_new_message: Callable[[UserMessage], Awaitable[Any]] | None = None
        if not self.settings.configured:
            logger.warning("WeChat channel not configured (WECHAT_TOKEN is empty): it will answer 503")
        elif self.settings.encoding_aes_key:
            try:
                self.safe_mode = SafeMode(self.settings.token, self.settings.encoding_aes_key, self.settings.app_id)
            except ValueError as error:
                logger.error("WeChat safe mode disabled: %s", error)

    # -- helpers -------------------------------------------------------------------------------
    def _get_runtime(self, on_new_message) -> WeChatRuntime:
        if self.runtime is None:
            self.runtime = WeChatRuntime(self.settings, on_new_message, self._store, self._outbox, self._api)
        return self.runtime

    def get_output_channel(self) -> OutputChannel | None:
        """Rasa's HTTP API uses this for events appended with output_channel=wechat."""
        if self._on_new_message is None or not self.settings.api_configured:
            return None
        return WeChatOutput(self._get_runtime(self._on_new_message).runner.courier)

    @staticmethod
    def _not_configured() -> HTTPResponse:
        return response.text("wechat channel not configured", status=503)

    async def _read_body(self, request: Request) -> bytes:
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise ProtocolError("body too large")
        chunks, size = [], 0
        while True:
            chunk = await request.stream.read()
            if chunk is None:
                break
            size += len(chunk)
            if size > limit:
                raise ProtocolError("body too large")
            chunks.append(chunk)
        return b"".join(chunks)

    def _decode(self, request: Request, body: bytes) -> tuple[dict[str, str], bool]:
        """Verify and decode a POST; returns (message fields, reply encrypted?)."""
        args = request.args
        timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
        check_signature(self.settings.token, args.get("signature", ""), timestamp, nonce)
        outer = parse_xml(body, self.settings.max_body_bytes)
        if args.get("encrypt_type", "raw").lower() != "aes":
            return outer, False
        if self.safe_mode is None:
            raise SafeModeNotConfigured()
        encrypted = outer.get("Encrypt")
        if not encrypted:
            raise ProtocolError("safe-mode message without <Encrypt>")
        inner = self.safe_mode.decrypt(encrypted, args.get("msg_signature", ""), timestamp, nonce)
        return parse_xml(inner, self.settings.max_body_bytes), True

    # -- the blueprint -------------------------------------------------------------------------
    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        on_new_message = capped(on_new_message)  # long and empty texts, as in every channel
        self._on_new_message = on_new_message
        webhook = Blueprint("wechat_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok", "configured": self.settings.configured})

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            if not self.settings.configured:
                return self._not_configured()
            args = request.args
            try:
                check_signature(self.settings.token, args.get("signature", ""), args.get("timestamp", ""), args.get("nonce", ""))
            except SignatureError:
                logger.warning("WeChat URL verification with a bad signature from %s", request.ip)
                return response.text("forbidden", status=403)
            return response.text(args.get("echostr", ""))

        @webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            started = time.monotonic()
            if not self.settings.configured:
                return self._not_configured()
            try:
                body = await self._read_body(request)
                fields, encrypted = self._decode(request, body)
                openid = fields.get("FromUserName", "")
                query_openid = request.args.get("openid")
                if not openid or (query_openid and query_openid != openid):
                    raise ProtocolError("missing or inconsistent FromUserName")
            except SignatureError as error:
                logger.warning("Rejected WeChat POST from %s: %s", request.ip, error)
                return response.text("forbidden", status=403)
            except SafeModeNotConfigured:
                logger.error("WeChat sent a safe-mode message but WECHAT_ENCODING_AES_KEY is empty or invalid")
                return self._not_configured()
            except ProtocolError as error:
                logger.warning("Bad WeChat POST from %s: %s", request.ip, error)
                return response.text("bad request", status=400)

            runtime = self._get_runtime(on_new_message)
            deadline = started + self.settings.reply_budget
            try:
                content = await self._process(runtime, fields, deadline)
            except Exception:
                logger.exception("WeChat message from %s could not be processed", openid)
                content = apology()
            if not content:
                return response.text("success")
            reply = build_text_reply(openid, fields.get("ToUserName", ""), content)
            if encrypted:
                reply = self.safe_mode.encrypt(reply, request.args.get("nonce") or None)
            return response.text(reply, content_type="application/xml; charset=utf-8")

        @webhook.listener("after_server_start")
        async def start_outbox_sender(app, loop) -> None:
            if self.settings.configured:
                self._get_runtime(on_new_message).start_sender()

        @webhook.listener("before_server_stop")
        async def stop_background(app, loop) -> None:
            if self.runtime is not None:
                await self.runtime.close()

        return webhook

    async def _process(self, runtime: WeChatRuntime, fields: dict[str, str], deadline: float) -> str | None:
        openid = fields["FromUserName"]
        msg_type = (fields.get("MsgType") or "").lower()
        event = (fields.get("Event") or "").lower()
        if msg_type != "event" or event in _WINDOW_EVENTS:
            runtime.touch(openid)
        decision = route(fields, self.click_intents)
        if decision.action == NOTHING:
            return None
        if decision.action == REPLY:
            # A canned reply (to a picture, say) is the bot speaking too: not while staff hold it.
            return None if await runtime.runner.is_held(openid) else decision.text
        key = message_key(fields)
        return await runtime.runner.handle(
            key,
            openid,
            decision.text,
            decision.from_user,
            message_id=fields.get("MsgId") or key,
            deadline=deadline,
            metadata={"wechat": {"msg_type": msg_type, "event": event or None}},
        )
