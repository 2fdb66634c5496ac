"""CSV downloads for the console: the text the CLI export writes (booking/cli.py, appeals/cli.py:
the same columns, phones masked), sent as UTF-8 with a BOM so that Excel, which staff open it in,
reads the Chinese right instead of guessing a local code page."""
from __future__ import annotations

from datetime import datetime

from fastapi.responses import Response

from booking.calendar import TZ

BOM = "\ufeff"


def csv_response(text: str, stem: str) -> Response:
    """`text` (CSV, no BOM) as a download named `<stem>-<YYYYMMDD-HHMM>.csv` (Pinghu time);
    `stem` is ASCII (bookings, appeals)."""
    name = f"{stem}-{datetime.now(TZ):%Y%m%d-%H%M}.csv"
    return Response(content=(BOM + text).encode("utf-8"), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
