"""An HTTP proxy in front of the action server, for tests: Rasa's action endpoint points here.
By default it forwards every call at once; a test can make the action server slow or down
without any hook in the product code, and gets it back as it was when its block ends.

    proxy = ActionProxy(f"http://127.0.0.1:{actions_port}")
    url = proxy.start()      # -> ACTION_ENDPOINT_URL = url + "/webhook"
    with proxy.slowed(5.0):  # every action call reaches the action server 5 s later
        ...
    with proxy.down():       # every action call: the connection is closed, no answer
        ...
    proxy.calls              # paths forwarded so far
    proxy.stop()

"Down" closes the connection without an HTTP answer. Rasa's RemoteAction (rasa/core/actions/
action.py) sees an aiohttp ClientConnectionError, the branch "Couldn't connect to the server" it
takes for a refused connection too; an HTTP error status would take another branch (a server that
is up but failing), so the proxy never answers one when down.
"""
from __future__ import annotations

import contextlib
import time
from http.server import BaseHTTPRequestHandler
from typing import Any, Iterator

import requests

from tests.support.local_http import LocalHttpServer

# Headers that say how the body is encoded; Rasa may deflate action requests.
FORWARDED_HEADERS = ("Content-Type", "Content-Encoding")


class ActionProxy:
    def __init__(self, target: str, delay: float = 0.0) -> None:
        self.target = target.rstrip("/")
        self.delay = delay
        self.is_down = False
        self.calls: list[str] = []
        self.dropped: list[str] = []  # paths whose connection was closed while down
        self._http = LocalHttpServer("action-proxy")

    @contextlib.contextmanager
    def slowed(self, seconds: float) -> Iterator[ActionProxy]:
        before, self.delay = self.delay, seconds
        try:
            yield self
        finally:
            self.delay = before

    @contextlib.contextmanager
    def down(self) -> Iterator[ActionProxy]:
        before, self.is_down = self.is_down, True
        try:
            yield self
        finally:
            self.is_down = before

    def start(self) -> str:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.is_down:
                    proxy.dropped.append(self.path)
                    self.close_connection = True  # no status line at all: nobody is listening
                    return
                proxy.calls.append(self.path)
                time.sleep(proxy.delay)
                headers = {name: self.headers[name] for name in FORWARDED_HEADERS if self.headers.get(name)}
                answer = requests.request(method, proxy.target + self.path, data=body, headers=headers, timeout=120)
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def do_GET(self) -> None:
                self._forward("GET")

            def do_POST(self) -> None:
                self._forward("POST")

        return self._http.serve(Handler)

    def stop(self) -> None:
        self._http.stop()
