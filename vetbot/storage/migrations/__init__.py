"""Alembic migrations, configured in code (no alembic.ini): `upgrade_to_head()` is what `make run`,
`make test` and the tests call; it is safe to run again and from several processes at once."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from vetbot.storage.engine import get_engine

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config(url: str | None = None) -> Config:
    """Config for the alembic command API (e.g. `command.revision(alembic_config(), "msg")`)."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes["engine"] = get_engine(url)
    return config


def upgrade_to_head(url: str | None = None, revision: str = "head") -> None:
    """Apply every migration not yet applied to the database at `url` (default: database_url())."""
    command.upgrade(alembic_config(url), revision)
