"""`vetbot bookings …`: the staff's view of the bookings, over booking.service.

Personal data: ID numbers exist only masked (330482********1234), so nothing here can show one in
clear. Phone numbers are masked (138****5678) in `list` and `export`, where many leave the screen at
once (a CSV file travels); `--show-phone` gives them in full for a call-back list. `show REF` gives
the one booking's phone in full: looking a booking up by its reference is how staff prepare a call.

Dates and times are Asia/Shanghai. Every refusal is one Chinese line on stderr and exit code 1.
What a booking looks like (dict, CSV, trail) is booking/present.py, shared with the console."""
from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from datetime import date, datetime, timedelta

from booking.calendar import TZ, WEEKDAYS
from booking.models import ARRIVED, DONE, NO_SHOW, STATUSES
from booking.present import as_dict, change_text, csv_text, local_time
from booking.service import STATUS_LABELS, Refusal, location_code, service_code

STAFF_STATUSES = (ARRIVED, DONE, NO_SHOW)  # `bookings status`; cancelling has its own command
TASK_KINDS = {"booking_reminder": "预约提醒", "booking_changed": "预约变更"}  # `bookings calls` lists these


def register(groups) -> None:
    bookings = groups.add_parser("bookings", help="预约代办（工作人员）").add_subparsers(
        dest="action", required=True)

    listing = bookings.add_parser("list", help="列出预约（默认终端表格）")
    _add_filters(listing)
    output = listing.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="输出 JSON")
    output.add_argument("--csv", action="store_true", help="输出 CSV")
    listing.set_defaults(handler=cmd_list)

    show = bookings.add_parser("show", help="一个预约的详情和操作记录")
    show.add_argument("reference", help="预约号")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_show)

    cancel = bookings.add_parser("cancel", help="取消预约（释放时段）")
    cancel.add_argument("reference", help="预约号")
    cancel.add_argument("--by", required=True, help="操作的工作人员姓名")
    cancel.add_argument("--reason", help="取消原因（记入操作记录）")
    cancel.set_defaults(handler=cmd_cancel)

    move = bookings.add_parser("move", help="改时间（老兵打电话来改时；会通知老兵）")
    move.add_argument("reference", help="预约号")
    move.add_argument("date", help="新日期，如 2026-12-10")
    move.add_argument("time", help="新时间（半点或整点），如 14:00")
    move.add_argument("--by", required=True, help="操作的工作人员姓名")
    move.set_defaults(handler=cmd_move)

    status = bookings.add_parser("status", help="登记到场 / 办结 / 未到场")
    status.add_argument("reference", help="预约号")
    status.add_argument("status", choices=STAFF_STATUSES,
                        help="arrived 已到场，done 已办结，no_show 未到场")
    status.add_argument("--by", required=True, help="操作的工作人员姓名")
    status.set_defaults(handler=cmd_status)

    remind = bookings.add_parser("remind", help="排入明天预约的提醒（供定时任务；微信渠道的后台也会做）")
    remind.set_defaults(handler=cmd_remind)

    calls = bookings.add_parser("calls", help="待电话通知的老兵（非微信预约的提醒和变更）")
    calls.add_argument("--done", type=int, metavar="ID", help="把这一条登记为已通知")
    calls.add_argument("--by", help="通知的工作人员姓名（和 --done 一起用）")
    calls.set_defaults(handler=cmd_calls)

    export = bookings.add_parser("export", help="导出 CSV（到文件，或不给文件时到屏幕）")
    _add_filters(export)
    export.add_argument("--csv", metavar="FILE", dest="csv_file",
                        help="写入这个文件（带 BOM，Excel 可直接打开）")
    export.set_defaults(handler=cmd_export)


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", help="某一天，如 2026-12-09")
    parser.add_argument("--from", dest="date_from", help="从这天起（含）")
    parser.add_argument("--to", dest="date_to", help="到这天止（含）")
    parser.add_argument("--location", help="地点编号或名称，如 zhapu、乍浦")
    parser.add_argument("--service", help="事项编号或名称，如 pingcan-xinban、评残（新办）")
    parser.add_argument("--status", action="append", choices=STATUSES,
                        help="状态，可重复：booked / arrived / done / no_show / cancelled")
    parser.add_argument("--show-phone", action="store_true", help="显示完整手机号（默认隐去中间四位）")


# ---- commands -------------------------------------------------------------------------------

def cmd_list(args: argparse.Namespace) -> int:
    return _run(lambda: _print_list(args))


def cmd_export(args: argparse.Namespace) -> int:
    return _run(lambda: _export(args))


def cmd_show(args: argparse.Namespace) -> int:
    return _run(lambda: _show(args))


def cmd_cancel(args: argparse.Namespace) -> int:
    from booking import service

    def cancel():
        with _session() as session:
            booking = service.cancel(session, args.reference, actor=_staff(args.by),
                                     reason=args.reason)
            notified = _notify_change(session, booking)
            print(f"已取消预约 {booking.reference}（{booking.date} {booking.start_time:%H:%M}），该时段名额已释放。"
                  f"操作人：{args.by}")
            print(notified)
    return _run(cancel)


def cmd_move(args: argparse.Namespace) -> int:
    """Staff move a booking to another free slot of the same place (booking.service.staff_reschedule:
    the calendar's checks, the capacity, the audit trail), and the veteran is told (booking.notices)."""
    from booking import service

    try:
        start = datetime.combine(date.fromisoformat(args.date), datetime.strptime(args.time, "%H:%M").time(), TZ)
    except ValueError:
        print("日期写成 2026-12-10，时间写成 14:00。", file=sys.stderr)
        return 2

    def move():
        with _session() as session:
            booking = service.staff_reschedule(session, args.reference, start, actor=_staff(args.by))
            notified = _notify_change(session, booking)
            print(f"已把预约 {booking.reference} 改到 {booking.date} {booking.start_time:%H:%M}。操作人：{args.by}")
            print(notified)
    return _run(move)


def _notify_change(session, booking) -> str:
    """Tell the veteran about a staff change (booking.notices); what was done, for staff."""
    from booking.notices import notify_change
    from vetbot.notify import reaches_on_wechat

    if not notify_change(session, booking):
        return "无需通知老兵。"
    if reaches_on_wechat(booking.channel, booking.sender_id):
        return "已通过微信通知老兵。"
    return "老兵不是在微信上预约的：已加入待电话通知列表（vetbot bookings calls）。"


def _now() -> datetime:
    return datetime.now(TZ)


def cmd_remind(args: argparse.Namespace) -> int:
    from booking.reminders import REMIND_FROM, queue_due_reminders

    def remind():
        now = _now()
        if now.time() < REMIND_FROM:
            print(f"提醒从 {REMIND_FROM:%H:%M} 起排入，现在还早，没有排入。")
            return
        print(f"已排入 {queue_due_reminders(now)} 条明天（{now.date() + timedelta(days=1)}）的预约提醒。")
    return _run(remind)


def cmd_calls(args: argparse.Namespace) -> int:
    return _run(lambda: _calls(args))


def _calls(args: argparse.Namespace) -> None:
    from booking.service import get_by_reference
    from vetbot.staff_tasks import open_tasks

    with _session() as session:
        if _task_done(session, args, TASK_KINDS, "已通知"):
            return
        tasks = open_tasks(session, kinds=TASK_KINDS)
        if not tasks:
            print("没有待电话通知的老兵。")
            return
        for task in tasks:
            booking = get_by_reference(session, task.reference)
            print(f"[{task.id}] {local_time(task.created_at)}  {TASK_KINDS[task.kind]}  "
                  f"预约号 {task.reference}  {booking.name}  {booking.phone_masked}")
            print("    " + task.text.replace("\n", "\n    "))
        print(f"共 {len(tasks)} 条。完整手机号：vetbot bookings show 预约号；"
              "通知后：vetbot bookings calls --done 编号 --by 姓名")


def _task_done(session, args: argparse.Namespace, kinds, done_as: str) -> bool:
    """`--done ID --by NAME` on a staff task list (these `kinds` only); True when it was that."""
    from vetbot.staff_tasks import mark_done

    if args.done is not None:
        if not mark_done(session, args.done, by=_staff(args.by or ""), kinds=kinds):
            raise Refusal(f"没有待办的第 {args.done} 条（已登记过，或编号不对）。")
        print(f"第 {args.done} 条已登记为{done_as}。操作人：{args.by}")
        return True
    if args.by is not None:
        raise Refusal("--by 要和 --done 一起用。")
    return False


def cmd_status(args: argparse.Namespace) -> int:
    from booking import service

    def change():
        with _session() as session:
            booking = service.set_status(session, args.reference, args.status,
                                         actor=_staff(args.by))
            print(f"预约 {booking.reference} 已登记为“{STATUS_LABELS[booking.status]}”。"
                  f"操作人：{args.by}")
    return _run(change)


def _run(command) -> int:
    """Run a command; a refusal, a booking error or a database that cannot be reached becomes
    one Chinese line on stderr and exit code 1 (staff see no traceback)."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from booking.service import BookingError
    from vetbot.storage import database_url
    from vetbot.storage.cli import _without_password

    try:
        command()
    except (Refusal, BookingError) as error:
        print(error, file=sys.stderr)
        return 1
    except (OperationalError, ProgrammingError) as error:
        reason = " ".join(str(error.orig).split())  # PostgreSQL's spans lines
        print(f"无法读写数据库 {_without_password(database_url())}：{reason}"
              "（数据库是否可用？是否已运行 vetbot db upgrade？）", file=sys.stderr)
        return 1
    return 0


def _session():
    from vetbot.storage import session_scope

    return session_scope()


def _staff(name: str) -> str:
    name = name.strip()
    if not name:
        raise Refusal("请用 --by 写明操作的工作人员姓名。")
    return f"staff:{name}"


# ---- list and export ------------------------------------------------------------------------

def _bookings(args: argparse.Namespace, session) -> list:
    from booking.service import list_bookings

    day, date_from, date_to = (_day(args.date, "--date"), _day(args.date_from, "--from"),
                               _day(args.date_to, "--to"))
    if day and (date_from or date_to):
        raise Refusal("--date 是某一天，--from / --to 是一段日期，两者只能用一种。")
    if date_from and date_to and date_from > date_to:
        raise Refusal(f"--from {date_from} 晚于 --to {date_to}，请检查日期范围。")
    return list_bookings(session, date=day, date_from=date_from, date_to=date_to,
                         location_code=location_code(args.location),
                         service_code=service_code(args.service), statuses=args.status)


def _print_list(args: argparse.Namespace) -> None:
    with _session() as session:
        bookings = _bookings(args, session)
        if args.json:
            print(json.dumps([as_dict(b, args.show_phone) for b in bookings],
                             ensure_ascii=False, indent=2))
        elif args.csv:
            sys.stdout.write(csv_text(bookings, args.show_phone))
        else:
            _print_table(bookings, args.show_phone)


def _export(args: argparse.Namespace) -> None:
    with _session() as session:
        bookings = _bookings(args, session)
        text = csv_text(bookings, args.show_phone)
    if args.csv_file is None:
        sys.stdout.write(text)
        return
    try:
        with open(args.csv_file, "w", encoding="utf-8-sig", newline="") as f:
            f.write(text)
    except OSError as error:
        raise Refusal(f"无法写入文件 {args.csv_file}：{error.strerror}") from None
    print(f"已导出 {len(bookings)} 条预约到 {args.csv_file}")


def _print_table(bookings, show_phone: bool) -> None:
    if not bookings:
        print("没有符合条件的预约。")
        return
    rows = [["预约号", "日期", "时间", "地点", "事项", "姓名", "手机", "状态"]]
    for booking in bookings:
        r = as_dict(booking, show_phone)
        rows.append([r["reference"], f"{r['date']} {_weekday(booking.date)}", r["start_time"],
                     r["location"].replace("退役军人", ""), r["service"], r["name"], r["phone"],
                     r["status_label"]])
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(_pad(cell, w) for cell, w in zip(row, widths)).rstrip())
    print(f"共 {len(bookings)} 条")


# ---- show -----------------------------------------------------------------------------------

def _show(args: argparse.Namespace) -> None:
    from booking.service import NotFound, get_by_reference

    with _session() as session:
        booking = get_by_reference(session, args.reference)
        if booking is None:
            raise NotFound()
        record = as_dict(booking, show_phone=True)
        events = [{"at": local_time(e.at), "actor": e.actor, "action": e.action,
                   "change": change_text(e.before, e.after)} for e in booking.events]
    if args.json:
        print(json.dumps({**record, "events": events}, ensure_ascii=False, indent=2))
        return
    print(f"预约号    {record['reference']}（{record['status_label']}）")
    print(f"事项      {record['service']}")
    print(f"地点      {record['location']}")
    print(f"时间      {record['date']} {_weekday(booking.date)} {record['start_time']}")
    print(f"姓名      {record['name']}")
    print(f"手机      {record['phone']}")
    print(f"身份证号  {record['id_number']}")
    print(f"渠道      {record['channel'] or '—'}")
    print("操作记录：")
    for e in events:
        print(f"  {e['at']}  {e['actor']}  {e['change']}")


# ---- values ---------------------------------------------------------------------------------

def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise Refusal(f"{option} 的日期“{text}”看不懂，请写成 2026-12-09 这样的 年-月-日。") from None


def _weekday(day: date) -> str:
    return "周" + WEEKDAYS[day.weekday()]


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
