"""The staff console: a FastAPI application (JSON API under /api/, pages in Chinese, the public
web chat at /chat). FastAPI because it runs beside Rasa's pins (pydantic 1.10, its own server) and
writes the OpenAPI document from the same models that check the requests."""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app() -> FastAPI:
    app = FastAPI(title="平湖退役军人服务助手 · 接线员控制台", version="1",
                  openapi_url="/api/openapi.json", docs_url=None, redoc_url=None)

    @app.get("/api/health", tags=["health"], summary="存活检查（无需登录）")
    def health() -> dict:
        return {"status": "ok"}

    from console import (routes_appeals, routes_ask, routes_auth, routes_bookings, routes_chat,
                         routes_conversations, routes_dashboard, routes_knowledge, routes_profile,
                         routes_takeover)

    for module in (routes_auth, routes_conversations, routes_takeover, routes_chat, routes_ask, routes_bookings,
                   routes_appeals, routes_dashboard, routes_profile, routes_knowledge):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
