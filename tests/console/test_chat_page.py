"""The public web chat page: served without login, with every asset it names, and the config
endpoint telling it where Rasa's socket.io is."""
from __future__ import annotations

import re

import pytest


@pytest.fixture
def client(console_client, monkeypatch):
    """Anonymous: no login, no cookie (tests/console/conftest.py)."""
    monkeypatch.setenv("VETBOT_RASA_URL", "http://127.0.0.1:5999")
    monkeypatch.delenv("VETBOT_CHAT_SOCKET_URL", raising=False)
    return console_client


def test_chat_page_is_public_html(client):
    response = client.get("/chat")
    assert response.status_code == 200 and not response.history  # not sent to /login
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
