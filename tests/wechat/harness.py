"""Run a Sanic app with the WeChat blueprint on a free loopback port, in a background thread."""
from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from typing import Any, Awaitable, Callable

from sanic import Sanic

from wechat_adapter.channel import WeChatInput

# Several apps in one process (one per test): what sanic-testing does too. Without it Sanic's
# "touchup" rewrites its request handler again for the second app and fails.
Sanic.test_mode = True


class RunningServer:
    def __init__(
        self,
        channel: WeChatInput,
        on_new_message: Callable[..., Awaitable[Any]] | None = None,
        app: Sanic | None = None,
    ) -> None:
        """Serve `channel` with `on_new_message`, or an `app` that already mounts it (Rasa's)."""
        self.channel = channel
        if app is None:
            app = Sanic(f"wechat_test_{uuid.uuid4().hex[:12]}", configure_logging=False)
            # Same mount point as rasa.core.channels.channel.register(..., route="/webhooks/").
            app.blueprint(channel.blueprint(on_new_message), url_prefix=f"/webhooks/{channel.url_prefix()}")
        self.app = app
        self.loop = asyncio.new_event_loop()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(100)
        self.port = self._sock.getsockname()[1]
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sanic-wechat", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}/webhooks/wechat/webhook"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            server = self.loop.run_until_complete(
                self.app.create_server(sock=self._sock, return_asyncio_server=True, access_log=False)
            )
            self.loop.run_until_complete(server.startup())
            self.loop.run_until_complete(server.before_start())
            self.loop.run_until_complete(server.after_start())
        except BaseException as error:  # surface startup errors in the test thread
            self._error = error
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(server.before_stop())
        server.close()
        self.loop.run_until_complete(server.wait_closed())
        self.loop.run_until_complete(server.after_stop())
        pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    def start(self) -> "RunningServer":
        self._thread.start()
        self._ready.wait(20)
        if self._error:
            raise self._error
        return self

    def call(self, coroutine, timeout: float = 30):
        """Run a coroutine in the server's loop (e.g. to wait for background tasks)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def wait_idle(self, timeout: float = 30) -> None:
        runtime = self.channel.runtime
        if runtime is not None:
            self.call(runtime.runner.wait_idle(timeout), timeout + 5)

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(30)
        self.app.__class__._app_registry.pop(self.app.name, None)
