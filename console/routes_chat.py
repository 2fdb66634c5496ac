"""The public web chat (/chat) for veterans who are not on WeChat: a page of the console talking
to Rasa's socket.io channel (vetbot/rest_channel.py) straight from the browser. Public: no login,
and nothing here reads or writes the console's data."""
from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from console.app import STATIC_DIR
from vetbot.settings import settings

router = APIRouter(tags=["chat"])

SOCKET_PATH = "/socket.io"  # credentials.yml keeps Rasa's default socketio_path


class ChatConfig(BaseModel):
    socket_url: str = Field(..., description="Rasa 的 socket.io 地址（浏览器看到的）")
    socket_path: str = Field(..., description="socket.io 路径")
    hotline: str = Field(..., description="服务热线，网页上给着急的人看")


def socket_url(request: Request) -> str:
    """VETBOT_CHAT_SOCKET_URL when set (behind a proxy, another host); else the host the browser
    used for this page, on the port of the Rasa server the console talks to."""
    configured = settings().chat_socket_url
    if configured:
        return configured.rstrip("/")
    rasa_port = urlsplit(settings().rasa_url).port or 5005
    host = request.url.hostname or "127.0.0.1"
    if ":" in host:  # an IPv6 address goes in brackets in a URL
        host = f"[{host}]"
    return f"{request.url.scheme}://{host}:{rasa_port}"


@router.get("/chat", include_in_schema=False)
def chat_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "chat.html", headers={"Cache-Control": "no-cache"})


@router.get("/api/chat/config", response_model=ChatConfig, summary="网页聊天的连接设置（无需登录）")
def chat_config(request: Request) -> ChatConfig:
    return ChatConfig(socket_url=socket_url(request), socket_path=SOCKET_PATH, hotline=settings().hotline)
