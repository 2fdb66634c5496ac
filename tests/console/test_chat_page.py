"""The public web chat page: served without login, with every asset it names, and the config
endpoint telling it where Rasa's socket.io is."""
from __future__ import annotations

import asyncio
import re

import httpx
import pytest


class Client:
    """The app in-process over httpx. (starlette 0.27's TestClient does not run on the pinned
    httpx 0.28: it passes `app=`, which httpx 0.28 removed.)"""

    def __init__(self, app):
        self.app = app

    def get(self, path: str, **kwargs) -> httpx.Response:
        async def get() -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                         base_url="http://testserver") as client:
                return await client.get(path, **kwargs)
        return asyncio.run(get())


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.setenv("VETBOT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VETBOT_RASA_URL", "http://127.0.0.1:5999")
    monkeypatch.delenv("VETBOT_CHAT_SOCKET_URL", raising=False)
    from console.app import create_app

    return Client(create_app())  # no login, no cookie


def test_chat_page_is_public_html(client):
    response = client.get("/chat")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "平湖退役军人服务助手" in response.text
    assert "set-cookie" not in response.headers


def test_every_asset_the_page_names_is_served_without_login(client):
    page = client.get("/chat").text
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert "/static/vendor/socket.io-4.8.1.min.js" in assets and "/static/chat.js" in assets
    assert "/static/chat.css" in assets
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 500, asset


def test_config_points_at_rasa_on_the_host_the_browser_used(client):
    response = client.get("/api/chat/config", headers={"host": "chat.pinghu.example:8080"})
    assert response.status_code == 200
    config = response.json()
    assert set(config) == {"socket_url", "socket_path", "hotline"}
    assert config["socket_url"] == "http://chat.pinghu.example:5999"
    assert config["socket_path"] == "/socket.io"
    from vetbot.settings import settings

    assert config["hotline"] == settings().hotline


def test_config_takes_the_configured_socket_url(client, monkeypatch):
    monkeypatch.setenv("VETBOT_CHAT_SOCKET_URL", "https://chat.example.gov.cn/")
    assert client.get("/api/chat/config").json()["socket_url"] == "https://chat.example.gov.cn"


def test_config_is_in_the_openapi_document(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    assert "get" in paths["/api/chat/config"]
