"""Paths and values most modules need, from vetbot.settings (the one place settings are read)."""
from __future__ import annotations

from pathlib import Path

from vetbot.settings import PROJECT_ROOT, settings

__all__ = ["PROJECT_ROOT", "data_dir", "hotline", "redis_url", "subdir"]


def data_dir() -> Path:
    """Where all runtime data lives (models, indexes, SQLite, logs): $VETBOT_DATA_DIR or ./var."""
    path = settings().data_dir
    path.mkdir(parents=True, exist_ok=True)
    return path


def subdir(name: str) -> Path:
    path = data_dir() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def redis_url() -> str | None:
    """Optional Redis for multi-instance deployments; None means in-process / file defaults."""
    return settings().redis_url


def hotline() -> str:
    return settings().hotline
