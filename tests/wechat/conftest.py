from __future__ import annotations

import os

import pytest

from tests.fakes.fake_wechat import FakeWeChat, make_aes_key
from tests.wechat.harness import RunningServer
from wechat_adapter.api import WeChatAPI
from wechat_adapter.channel import WeChatInput
from wechat_adapter.settings import WeChatSettings

TOKEN = "pinghu-test-token"
APP_ID = "wx0123456789abcdef"
APP_SECRET = "fake-app-secret"
AES_KEY = make_aes_key()


@pytest.fixture(autouse=True)
def isolated_environment(request, tmp_path, monkeypatch):
    """Each test gets its own data dir and no WeChat / Redis settings from the developer's shell.

    Stack tests keep the real data dir: that is where the trained model is."""
    if request.node.get_closest_marker("stack") is None:
        monkeypatch.setenv("VETBOT_DATA_DIR", str(tmp_path / "var"))
    for name in list(os.environ):
        if name.startswith("WECHAT_") or name == "VETBOT_REDIS_URL":
            monkeypatch.delenv(name)
    yield


@pytest.fixture
def fake():
    wechat = FakeWeChat(TOKEN, AES_KEY, APP_ID, APP_SECRET)
    wechat.start()
    yield wechat
    wechat.stop()


def make_settings(fake: FakeWeChat, **overrides) -> WeChatSettings:
    values = dict(
        token=TOKEN,
        encoding_aes_key=AES_KEY,
        app_id=APP_ID,
        app_secret=APP_SECRET,
        api_base_url=fake.base_url,
        overflow_delay=0.05,
        outbox_interval=0.1,
    )
    values.update(overrides)
    return WeChatSettings(**values)


@pytest.fixture
def serve(fake):
    """serve(bot, store=None, **settings) -> a running adapter (Sanic on a free port)."""
    servers: list[RunningServer] = []

    def start(bot, store=None, outbox=None, settings: WeChatSettings | None = None, **overrides) -> RunningServer:
        channel = WeChatInput(settings or make_settings(fake, **overrides), store=store, outbox=outbox)
        server = RunningServer(channel, bot).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def api(fake):
    return WeChatAPI(fake.base_url, APP_ID, APP_SECRET)
