"""How staff see a booking, the same in `vetbot bookings` (booking/cli.py) and the console
(console/routes_bookings.py): one dict per booking, the CSV, a trail event in words, names for codes.

No clear ID number can appear (only the masked one is stored); the phone is masked unless the
caller asks for it in full. Times are Asia/Shanghai."""
from __future__ import annotations

import csv
import io
from datetime import datetime

from booking.calendar import TZ
from booking.service import STATUS_LABELS, catalogue

CSV_HEADER = ["预约号", "日期", "时间", "地点", "事项", "姓名", "手机", "身份证号", "状态", "渠道",
              "预约提交时间"]


def local_time(moment: datetime) -> str:
    return moment.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S")


def name_of(lookup, code: str) -> str:
    """The catalogue's name for a code; the code itself if the catalogue no longer lists it."""
    try:
        return lookup(code).name
    except KeyError:
        return code


def as_dict(booking, show_phone: bool) -> dict:
    """One booking as staff see it: no clear ID ever, the phone masked unless asked."""
    places = catalogue()
    return {
        "reference": booking.reference,
        "status": booking.status,
        "status_label": STATUS_LABELS[booking.status],
        "service_code": booking.service_code,
        "service": name_of(places.service, booking.service_code),
        "location_code": booking.location_code,
        "location": name_of(places.location, booking.location_code),
        "date": booking.date.isoformat(),
        "start_time": booking.start_time.strftime("%H:%M"),
        "name": booking.name,
        "phone": booking.phone if show_phone else booking.phone_masked,
        "id_number": booking.id_masked,
        "channel": booking.channel,
        "created_at": local_time(booking.created_at),
    }


def csv_text(bookings, show_phone: bool) -> str:
    """The bookings as CSV text (header first); the caller adds the BOM for Excel."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for booking in bookings:
        r = as_dict(booking, show_phone)
        writer.writerow([r["reference"], r["date"], r["start_time"], r["location"], r["service"],
                         r["name"], r["phone"], r["id_number"], r["status_label"],
                         r["channel"] or "", r["created_at"]])
    return out.getvalue()


def change_text(before: dict | None, after: dict) -> str:
    """What one audit event did, in words: 预约 / 改期 from → to / 状态 from → to, with a reason."""
    if before is None:
        text = f"预约 {after['date']} {after['start_time']}"
    elif before["status"] != after["status"]:
        text = f"状态 {STATUS_LABELS[before['status']]} → {STATUS_LABELS[after['status']]}"
    else:
        moved = [f"{before[k]} → {after[k]}" for k in ("location_code", "date", "start_time")
                 if before[k] != after[k]]
        text = "改期 " + "，".join(moved)
    if after.get("reason"):
        text += f"，原因：{after['reason']}"
    return text
