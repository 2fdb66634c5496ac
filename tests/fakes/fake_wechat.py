"""A local stand-in for WeChat's servers, for tests and benchmarks (loopback only).

It plays both sides WeChat plays:

* the push side: signs (and in safe/compatible mode encrypts) messages with wechatpy, POSTs
  them to the adapter's URL, waits `reply_timeout` (5 s, like WeChat) for the passive reply,
  retries with the same MsgId (three tries in all), and decrypts the reply with wechatpy;
* the API side: a real HTTP server with cgi-bin/token, message/custom/send,
  message/template/send and menu/create, which checks access tokens, can be told to fail
  (40001 once, 45015, 45047, ...) and records everything it received.

    fake = FakeWeChat(token, aes_key, app_id)
    base_url = fake.start()          # -> WECHAT_API_BASE_URL
    result = fake.push_text(adapter_url, "o_openid", "你好", msg_id=1, mode="safe")
    result.content, result.attempts, result.latency
    fake.custom_messages, fake.template_messages, fake.menus
    fake.stop()
"""
from __future__ import annotations

import base64
import http.client
import itertools
import json
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable

import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from tests.support.local_http import LocalHttpServer

ACCOUNT_ID = "gh_pinghu_fake"


def make_aes_key() -> str:
    """A valid EncodingAESKey: 43 characters of base64 for 32 random bytes."""
    return base64.b64encode(secrets.token_bytes(32)).decode()[:-1]


def sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def render_xml(fields: dict[str, Any]) -> str:
    inner = "".join(
        f"<{k}>{v}</{k}>" if isinstance(v, int) else f"<{k}>{_cdata(str(v))}</{k}>" for k, v in fields.items()
    )
    return f"<xml>{inner}</xml>"


@dataclass
class Attempt:
    status: int | None  # None: no answer within reply_timeout (or connection error)
    body: bytes
    elapsed: float
    error: str | None = None
    reply: dict | None = None


@dataclass
class PushResult:
    attempts: int
    tries: list[Attempt]
    status: int | None
    reply: dict | None  # the decrypted passive reply WeChat accepted (None for success/empty)
    encrypted: bool  # was the accepted reply encrypted
    latency: float  # from the first try to the accepted answer (or to giving up)
    raw: bytes = b""

    @property
    def accepted(self) -> bool:
        return self.status == 200

    @property
    def content(self) -> str | None:
        return self.reply.get("Content") if self.reply else None

    @property
    def replies(self) -> list[dict | None]:
        """The decrypted passive reply of every answered try (None for "success")."""
        return [attempt.reply for attempt in self.tries if attempt.status == 200]


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    json: Any = None
    at: float = field(default_factory=time.time)


class FakeWeChat:
    def __init__(
        self,
        token: str,
        aes_key: str,
        app_id: str,
        app_secret: str = "fake-app-secret",
        reply_timeout: float = 5.0,
        tries: int = 3,
        token_expires_in: int = 7200,
        account_id: str = ACCOUNT_ID,
    ) -> None:
        self.token = token
        self.aes_key = aes_key
        self.app_id = app_id
        self.app_secret = app_secret
        self.reply_timeout = reply_timeout
        self.tries = tries
        self.token_expires_in = token_expires_in
        self.account_id = account_id
        self.crypto = WeChatCrypto(token, aes_key, app_id)
        self._lock = threading.Condition()
        self._http = LocalHttpServer("fake-wechat")
        self._token_numbers = itertools.count(1)
        self._msg_ids = itertools.count(int(time.time() * 1000))
        self.valid_tokens: set[str] = set()
        self.token_fetches = 0
        self.requests: list[Recorded] = []
        self.custom_messages: list[dict] = []
        self.template_messages: list[dict] = []
        self.menus: list[dict] = []
        self._failures: dict[str, list[int]] = {}

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _answer(self, payload: dict, status: int = 200) -> None:
                body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._answer(*fake._handle("GET", self.path, b""))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._answer(*fake._handle("POST", self.path, self.rfile.read(length)))

        return self._http.serve(Handler)

    @property
    def base_url(self) -> str:
        return self._http.base_url

    def stop(self) -> None:
        self._http.stop()

    def __enter__(self) -> "FakeWeChat":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- controlling the API side ---------------------------------------------------------------
    def fail_next(self, api: str, errcode: int, times: int = 1) -> None:
        """Make the next `times` calls of api ("token", "custom", "template", "menu") fail."""
        with self._lock:
            self._failures.setdefault(api, []).extend([errcode] * times)

    def expire_tokens(self) -> None:
        with self._lock:
            self.valid_tokens.clear()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        end = time.monotonic() + timeout
        with self._lock:
            while not predicate():
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
        return True

    def requests_to(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    # -- the API side -------------------------------------------------------------------------
    _APIS = {
        "/cgi-bin/message/custom/send": "custom",
        "/cgi-bin/message/template/send": "template",
        "/cgi-bin/menu/create": "menu",
    }

    def _handle(self, method: str, raw_path: str, body: bytes) -> tuple[dict, int]:
        parsed = urllib.parse.urlsplit(raw_path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        with self._lock:
            record = Recorded(method, parsed.path, query, body)
            self.requests.append(record)
            try:
                return self._dispatch(method, parsed.path, query, body, record), 200
            finally:
                self._lock.notify_all()

    def _take_failure(self, api: str) -> int | None:
        queue = self._failures.get(api)
        return queue.pop(0) if queue else None

    def _dispatch(self, method: str, path: str, query: dict, body: bytes, record: Recorded) -> dict:
        if path == "/cgi-bin/token" and method == "GET":
            if query.get("grant_type") != "client_credential":
                return {"errcode": 40002, "errmsg": "invalid grant_type"}
            if query.get("appid") != self.app_id:
                return {"errcode": 40013, "errmsg": "invalid appid"}
            if query.get("secret") != self.app_secret:
                return {"errcode": 40125, "errmsg": "invalid appsecret"}
            failure = self._take_failure("token")
            if failure:
                return {"errcode": failure, "errmsg": "injected failure"}
            self.token_fetches += 1
            token = f"FAKE_ACCESS_TOKEN_{next(self._token_numbers)}_{secrets.token_hex(4)}"
            self.valid_tokens.add(token)
            return {"access_token": token, "expires_in": self.token_expires_in}
        api = self._APIS.get(path)
        if api is None or method != "POST":
            return {"errcode": 404, "errmsg": f"no such api {method} {path}"}
        if query.get("access_token") not in self.valid_tokens:
            return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
        failure = self._take_failure(api)
        if failure:
            if failure in (40001, 40014, 42001):
                self.valid_tokens.discard(query.get("access_token"))
            return {"errcode": failure, "errmsg": "injected failure"}
        try:
            payload = json.loads(body.decode("utf-8"))
        except ValueError:
            return {"errcode": 47001, "errmsg": "data format error"}
        record.json = payload
        if api == "custom":
            if payload.get("msgtype") != "text" or not payload.get("touser"):
                return {"errcode": 40008, "errmsg": "invalid message type"}
            content = payload["text"]["content"]
            if len(content.encode("utf-8")) > 2048:
                return {"errcode": 45002, "errmsg": "content size out of limit"}
            self.custom_messages.append(payload)
        elif api == "template":
            if not payload.get("template_id") or not payload.get("touser"):
                return {"errcode": 40037, "errmsg": "invalid template_id"}
            self.template_messages.append(payload)
            return {"errcode": 0, "errmsg": "ok", "msgid": next(self._msg_ids)}
        else:
            self.menus.append(payload)
        return {"errcode": 0, "errmsg": "ok"}

    # -- the push side ------------------------------------------------------------------------
    def next_msg_id(self) -> int:
        return next(self._msg_ids)

    def build_push(self, fields: dict[str, Any], mode: str = "safe") -> tuple[bytes, dict[str, str]]:
        """The body and query string WeChat would POST for these message fields."""
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(5)
        params = {
            "signature": sign(self.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": str(fields.get("FromUserName", "")),
        }
        plain = render_xml(fields)
        if mode == "plain":
            return plain.encode("utf-8"), params
        encrypted_reply = xmltodict.parse(self.crypto.encrypt_message(plain, nonce, timestamp))["xml"]
        encrypt = encrypted_reply["Encrypt"]
        params.update(encrypt_type="aes", msg_signature=sign(self.token, timestamp, nonce, encrypt))
        if mode == "safe":
            body = render_xml({"ToUserName": fields.get("ToUserName", self.account_id), "Encrypt": encrypt})
        elif mode == "compat":
            body = render_xml({**fields, "Encrypt": encrypt})
        else:
            raise ValueError("mode must be 'safe', 'plain' or 'compat'")
        return body.encode("utf-8"), params

    def post(self, adapter_url: str, body: bytes, params: dict[str, str], timeout: float | None = None) -> Attempt:
        """One HTTP POST to the adapter, giving up after `timeout` like WeChat does."""
        url = urllib.parse.urlsplit(adapter_url)
        path = url.path + "?" + urllib.parse.urlencode(params)
        started = time.monotonic()
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout or self.reply_timeout)
        try:
            connection.request("POST", path, body=body, headers={"Content-Type": "text/xml"})
            answer = connection.getresponse()
            return Attempt(answer.status, answer.read(), time.monotonic() - started)
        except (OSError, http.client.HTTPException) as error:
            return Attempt(None, b"", time.monotonic() - started, f"{type(error).__name__}: {error}")
        finally:
            connection.close()

    def deliver(self, adapter_url: str, body: bytes, params: dict[str, str], mode: str, tries: int | None = None) -> PushResult:
        """POST like WeChat: retry the same message when no answer came within the timeout."""
        started = time.monotonic()
        attempts: list[Attempt] = []
        for _ in range(tries or self.tries):
            attempt = self.post(adapter_url, body, params)
            attempts.append(attempt)
            if attempt.status is not None:
                break
        final = attempts[-1]
        reply, encrypted = (None, False)
        if final.status == 200:
            reply, encrypted = self.decode_reply(final.body, mode)
            final.reply = reply
        return PushResult(len(attempts), attempts, final.status, reply, encrypted, time.monotonic() - started, final.body)

    def decode_reply(self, body: bytes, mode: str) -> tuple[dict | None, bool]:
        text = body.decode("utf-8").strip()
        if text in ("", "success"):
            return None, False
        document = xmltodict.parse(text)["xml"]
        if "Encrypt" in document:
            # WeChat checks MsgSignature and decrypts with the account's key (wechatpy does both).
            plain = self.crypto.decrypt_message(text, document["MsgSignature"], document["TimeStamp"], document["Nonce"])
            return xmltodict.parse(plain)["xml"], True
        if mode == "safe":
            raise AssertionError("safe mode requires an encrypted reply, got plaintext")
        return document, False

    def push(self, adapter_url: str, fields: dict[str, Any], mode: str = "safe", tries: int | None = None) -> PushResult:
        body, params = self.build_push(fields, mode)
        return self.deliver(adapter_url, body, params, mode, tries)

    def push_text(
        self, adapter_url: str, openid: str, text: str, msg_id: int | None = None, mode: str = "safe", **kwargs: Any
    ) -> PushResult:
        fields = {
            "ToUserName": self.account_id,
            "FromUserName": openid,
            "CreateTime": int(time.time()),
            "MsgType": "text",
            "Content": text,
            "MsgId": msg_id if msg_id is not None else self.next_msg_id(),
        }
        return self.push(adapter_url, fields, mode, **kwargs)

    def push_event(
        self,
        adapter_url: str,
        openid: str,
        event: str,
        event_key: str | None = None,
        mode: str = "safe",
        create_time: int | None = None,
        **kwargs: Any,
    ) -> PushResult:
        fields: dict[str, Any] = {
            "ToUserName": self.account_id,
            "FromUserName": openid,
            "CreateTime": create_time or int(time.time()),
            "MsgType": "event",
            "Event": event,
        }
        if event_key is not None:
            fields["EventKey"] = event_key
        return self.push(adapter_url, fields, mode, **kwargs)

    def push_voice(
        self, adapter_url: str, openid: str, recognition: str | None, mode: str = "safe", **kwargs: Any
    ) -> PushResult:
        fields: dict[str, Any] = {
            "ToUserName": self.account_id,
            "FromUserName": openid,
            "CreateTime": int(time.time()),
            "MsgType": "voice",
            "MediaId": "media_" + secrets.token_hex(4),
            "Format": "amr",
            "MsgId": self.next_msg_id(),
        }
        if recognition is not None:
            fields["Recognition"] = recognition
        return self.push(adapter_url, fields, mode, **kwargs)

    def push_image(self, adapter_url: str, openid: str, mode: str = "safe", **kwargs: Any) -> PushResult:
        fields = {
            "ToUserName": self.account_id,
            "FromUserName": openid,
            "CreateTime": int(time.time()),
            "MsgType": "image",
            "PicUrl": "http://127.0.0.1/nothing.jpg",
            "MediaId": "media_" + secrets.token_hex(4),
            "MsgId": self.next_msg_id(),
        }
        return self.push(adapter_url, fields, mode, **kwargs)

    def verify_url(self, adapter_url: str, echostr: str = "echo-12345", forge: bool = False) -> tuple[int, str]:
        timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
        signature = sign(self.token, timestamp, nonce)
        if forge:
            signature = sign("not-the-token", timestamp, nonce)
        query = urllib.parse.urlencode({"signature": signature, "timestamp": timestamp, "nonce": nonce, "echostr": echostr})
        url = urllib.parse.urlsplit(adapter_url)
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=self.reply_timeout)
        try:
            connection.request("GET", f"{url.path}?{query}")
            answer = connection.getresponse()
            return answer.status, answer.read().decode("utf-8")
        finally:
            connection.close()
