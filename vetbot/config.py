"""Settings read from the environment, with embedded defaults for one machine."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """Where all runtime data lives (models, indexes, SQLite, logs): $VETBOT_DATA_DIR or ./var."""
    path = Path(os.environ.get("VETBOT_DATA_DIR") or PROJECT_ROOT / "var")
    path.mkdir(parents=True, exist_ok=True)
    return path


def subdir(name: str) -> Path:
    path = data_dir() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def redis_url() -> str | None:
    """Optional Redis for multi-instance deployments; None means in-process / file defaults."""
    return os.environ.get("VETBOT_REDIS_URL") or None


def hotline() -> str:
    return os.environ.get("VETBOT_HOTLINE") or "12345（政务服务热线，请说转平湖市退役军人事务局）"
