"""Small request types the console's routes share."""
from __future__ import annotations

from datetime import datetime, timezone

from pydantic import conint

# A table's integer key. A larger number would overflow the database's integer (a 500 before).
RowId = conint(ge=1, le=2**63 - 1)


def as_utc(moment: datetime | None) -> datetime | None:
    """A time given without a zone (2026-12-09T09:30) is read as UTC, as the API documents."""
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment
