"""Start the real action server and Rasa server (as `make run` does) for tests and benchmarks."""
from __future__ import annotations

import contextlib
import os
import secrets
import socket
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.action_proxy import ActionProxy

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STARTUP_TIMEOUT = 240
# The environment of the stack all stack tests share (tests/conftest.py live_stack): the template id
# and short outbox interval the late-reply tests need (no other test reaches a template or waits
# on the outbox).
LIVE_STACK_ENV = {"WECHAT_TEMPLATE_NOTICE": "TPL_E2E_NOTICE", "WECHAT_OUTBOX_INTERVAL": "0.5"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    rasa_url: str
    actions_url: str
    token: str
    env: dict
    proxy: ActionProxy | None = None  # between Rasa and the action server, when started with one
    rasa_log: Path | None = None

    def say(self, sender: str, message: str, timeout: float = 30) -> list[dict]:
        response = requests.post(
            f"{self.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": message}, timeout=timeout
        )
        response.raise_for_status()
        return response.json()

    def user_turns(self, sender: str, message_id: str) -> int:
        """How many user turns Rasa recorded for this message id (1 = processed once)."""
        tracker = requests.get(
            f"{self.rasa_url}/conversations/{sender}/tracker", params={"token": self.token}, timeout=30
        ).json()
        return sum(1 for e in tracker["events"] if e["event"] == "user" and e.get("message_id") == message_id)


def sent_to(fake, openid: str) -> list[str]:
    """The customer-service texts the fake WeChat received for this veteran."""
    return [m["text"]["content"] for m in list(fake.custom_messages) if m["touser"] == openid]


def _wait(url: str, process: subprocess.Popen, log: Path, deadline: float) -> None:
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).ok:
                return
        time.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {STARTUP_TIMEOUT}s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def start_stack(extra_env: dict | None = None, proxied: bool = False):
    """proxied: Rasa calls the action server through an ActionProxy (stack.proxy), which a test
    may slow down or take down for a while; extra_env may point ACTION_ENDPOINT_URL elsewhere."""
    product_dir = Path(os.environ.get("VETBOT_DATA_DIR") or ROOT / "var")
    model = product_dir / "models" / "vetbot.tar.gz"
    if not model.exists():
        raise RuntimeError(f"no trained model at {model}: run `make model` first")
    # Conversations, WeChat outbox and logs of test runs stay apart from the product's own;
    # only the read-only model and knowledge index are shared.
    data_dir = Path(tempfile.mkdtemp(prefix="vetbot-stack-"))
    for shared in ("models", "kb"):
        (data_dir / shared).symlink_to(product_dir / shared)
    rasa_port, actions_port = free_port(), free_port()
    proxy = ActionProxy(f"http://127.0.0.1:{actions_port}") if proxied else None
    action_endpoint = (proxy.start() if proxy else f"http://127.0.0.1:{actions_port}") + "/webhook"
    token = secrets.token_hex(16)  # hex: a leading "-" would read as a command-line flag
    env = {
        **os.environ,
        "VETBOT_DATA_DIR": str(data_dir),
        "ACTION_ENDPOINT_URL": action_endpoint,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "VETBOT_WARM_UP": "1",
        **{var: os.environ.get(var, "") for var in
           ("WECHAT_TOKEN", "WECHAT_ENCODING_AES_KEY", "WECHAT_APP_ID", "WECHAT_APP_SECRET")},
        "WECHAT_API_BASE_URL": os.environ.get("WECHAT_API_BASE_URL", "http://127.0.0.1:9"),
        **(extra_env or {}),
    }
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    actions_log, rasa_log = logs / f"test-actions-{actions_port}.log", logs / f"test-rasa-{rasa_port}.log"
    processes = []
    # As `make run` does: the storage migrated before anything uses it.
    subprocess.run([str(BIN / "vetbot"), "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    try:
        processes.append(subprocess.Popen(
            [str(BIN / "rasa"), "run", "actions", "--actions", "bot.actions", "--port", str(actions_port)],
            cwd=ROOT, env=env, stdout=open(actions_log, "w"), stderr=subprocess.STDOUT,
        ))
        processes.append(subprocess.Popen(
            [str(BIN / "rasa"), "run", "--model", str(model), "--endpoints", "endpoints.yml",
             "--credentials", "credentials.yml", "--enable-api", "--auth-token", token,
             "--port", str(rasa_port)],
            cwd=ROOT, env=env, stdout=open(rasa_log, "w"), stderr=subprocess.STDOUT,
        ))
        deadline = time.time() + STARTUP_TIMEOUT
        _wait(f"http://127.0.0.1:{actions_port}/health", processes[0], actions_log, deadline)
        _wait(f"http://127.0.0.1:{rasa_port}/status?token={token}", processes[1], rasa_log, deadline)
        yield Stack(f"http://127.0.0.1:{rasa_port}", f"http://127.0.0.1:{actions_port}", token, env, proxy, rasa_log)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        if proxy:
            proxy.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.contextmanager
def start_wechat_stack(extra_env: dict | None = None, proxied: bool = False):
    """The stack with its WeChat channel pointed at a local fake WeChat: yields (fake, stack)."""
    from tests.fakes.fake_wechat import FakeWeChat, make_aes_key

    token, app_id, secret = "pinghu-e2e-token", "wx_e2e_pinghu_test", "e2e-secret"
    fake = FakeWeChat(token, make_aes_key(), app_id, secret)
    env = {
        "WECHAT_TOKEN": token,
        "WECHAT_ENCODING_AES_KEY": fake.aes_key,
        "WECHAT_APP_ID": app_id,
        "WECHAT_APP_SECRET": secret,
        "WECHAT_API_BASE_URL": fake.start(),
        **(extra_env or {}),
    }
    try:
        with start_stack(env, proxied) as stack:
            yield fake, stack
    finally:
        fake.stop()
