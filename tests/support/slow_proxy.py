"""A delaying HTTP proxy for tests: Rasa's action endpoint points here, and every action call
reaches the real action server `delay` seconds later. This makes a real Rasa turn slow without
any hook in the product code.

    proxy = SlowProxy(f"http://127.0.0.1:{actions_port}", delay=5.0)
    url = proxy.start()  # -> ACTION_ENDPOINT_URL = url + "/webhook"
    proxy.calls          # paths forwarded so far
    proxy.stop()
"""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

# Headers that say how the body is encoded; Rasa may deflate action requests.
FORWARDED_HEADERS = ("Content-Type", "Content-Encoding")


class SlowProxy:
    def __init__(self, target: str, delay: float) -> None:
        self.target = target.rstrip("/")
        self.delay = delay
        self.calls: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> str:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
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

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="slow-proxy", daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
