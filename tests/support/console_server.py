"""Start the real console (`vetbot console serve`) beside a running stack, for tests."""
from __future__ import annotations

import contextlib
import subprocess
import time

import requests

from tests.support.stack import BIN, ROOT, STARTUP_TIMEOUT, Stack, free_port


@contextlib.contextmanager
def start_console(stack: Stack, extra_env: dict | None = None):
    """Yields the console's base URL. It shares the stack's data directory (database, event broker
    file) and talks to the stack's Rasa server with its token."""
    port = free_port()
    env = {**stack.env, "VETBOT_RASA_URL": stack.rasa_url, "RASA_API_TOKEN": stack.token,
           "CONSOLE_PORT": str(port), **(extra_env or {})}
    log_path = f"{env['VETBOT_DATA_DIR']}/logs/test-console-{port}.log"
    process = subprocess.Popen([str(BIN / "vetbot"), "console", "serve", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + STARTUP_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"console exited early:\n{open(log_path).read()[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/api/health", timeout=2).ok:
                    break
            if time.time() > deadline:
                raise TimeoutError(f"console not ready:\n{open(log_path).read()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
