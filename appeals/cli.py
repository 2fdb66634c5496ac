"""`vetbot appeals …`: the staff's view of the appeals (诉求), over appeals.service.

Phones are masked (138****5678) in `list` and `export` unless `--show-phone`; `show REF` gives the
one appeal's phone in full (how staff prepare a call). Descriptions were stored with ID numbers
and phones already masked, so no clear ID number can appear. Lists are in queue order: urgent
first, then the nearest deadline. Every refusal is one Chinese line on stderr and exit code 1
(the database errors as `vetbot bookings`). What an appeal looks like (dict, CSV, trail) is
appeals/present.py, shared with the console."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime

from appeals.present import as_dict, csv_text, event_dict, event_text
from appeals.service import assignee_id, category_id, state_id
from appeals.urgency import label
from booking.calendar import TZ
from booking.cli import Refusal, _session, _staff, _task_done
from booking.cli import _run as _run_booking_style
from booking.present import local_time
from booking.service import location_code
STAT_HEADER = {"total": "件数", "closed": "办结", "on_time": "按期", "late": "超期", "on_time_rate": "按期率",
               "satisfied": "满意", "unsatisfied": "不满意", "satisfaction_rate": "满意率"}


def register(groups) -> None:
    appeals = groups.add_parser("appeals", help="诉求（工作人员）").add_subparsers(dest="action", required=True)

    listing = appeals.add_parser("list", help="列出诉求（紧急的在前，再按期限）")
    _add_filters(listing)
    output = listing.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="输出 JSON")
    output.add_argument("--csv", action="store_true", help="输出 CSV")
    listing.set_defaults(handler=lambda args: _run(lambda: _list(args)))

    export = appeals.add_parser("export", help="导出 CSV（到文件，或不给文件时到屏幕）")
    _add_filters(export)
    export.add_argument("--csv", metavar="FILE", dest="csv_file", help="写入这个文件（带 BOM，Excel 可直接打开）")
    export.set_defaults(handler=lambda args: _run(lambda: _export(args)))

    show = appeals.add_parser("show", help="一件诉求的详情和全部记录")
    show.add_argument("reference", help="诉求编号")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=lambda args: _run(lambda: _show(args)))

    update = appeals.add_parser("update", help="办理一步：派单、签收、退单、答复、回访……")
    update.add_argument("reference", help="诉求编号")
    update.add_argument("--to", required=True, help="新状态，如 dispatched 或 已派单")
    update.add_argument("--by", required=True, help="操作的工作人员姓名")
    update.add_argument("--role", default="hotline", help="操作人的角色：hotline（默认）/ station / leader / veteran")
    update.add_argument("--note", help="说明（退单、重办要写原因；答复写答复内容）")
    update.add_argument("--assignee", help="承办单位或人员（派单时必填），如 zhapu、乍浦、局优抚科")
    update.set_defaults(handler=lambda args: _run(lambda: _update(args)))

    extend = appeals.add_parser("extend", help="延期（分管领导批准；会通知老兵）")
    extend.add_argument("reference", help="诉求编号")
    extend.add_argument("--days", type=int, required=True, help="延几个工作日")
    extend.add_argument("--reason", required=True, help="延期原因（老兵会看到）")
    extend.add_argument("--by", required=True, help="批准人姓名")
    extend.add_argument("--role", default="leader", help="批准人的角色（默认 leader）")
    extend.set_defaults(handler=lambda args: _run(lambda: _extend(args)))

    stats = appeals.add_parser("stats", help="按期率、满意率（按镇、分类或月份）")
    stats.add_argument("--by", choices=("town", "category", "month"), default="town")
    stats.add_argument("--from", dest="date_from", help="登记日期从（含），如 2026-12-01")
    stats.add_argument("--to", dest="date_to", help="登记日期到（含）")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(handler=lambda args: _run(lambda: _stats(args)))

    remind = appeals.add_parser("remind", help="给超期诉求的承办人排入催办（每天每件一次；供定时任务）")
    remind.set_defaults(handler=lambda args: _run(_remind))

    task_list = appeals.add_parser("tasks", help="诉求的待办：紧急、催办、老兵补充、要电话告知的进展")
    task_list.add_argument("--done", type=int, metavar="ID", help="把这一条登记为已办")
    task_list.add_argument("--by", help="工作人员姓名（和 --done 一起用）")
    task_list.set_defaults(handler=lambda args: _run(lambda: _tasks(args)))


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--status", action="append", help="状态，可重复，如 accepted 或 已受理")
    parser.add_argument("--category", help="分类，如 kunnan 或 生活困难")
    parser.add_argument("--town", help="镇（街道），如 乍浦")
    parser.add_argument("--urgent", action="store_true", help="只看紧急的")
    parser.add_argument("--overdue", action="store_true", help="只看超期的")
    parser.add_argument("--show-phone", action="store_true", help="显示完整手机号（默认隐去中间四位）")


def _run(command) -> int:
    from appeals.service import AppealError

    def guarded():
        try:
            command()
        except AppealError as error:
            raise Refusal(str(error)) from None
    return _run_booking_style(guarded)


def _today() -> date:
    return datetime.now(TZ).date()


def _workflow():
    from appeals.workflow import load_workflow

    return load_workflow()


def _appeals(args: argparse.Namespace, session) -> list:
    from appeals.service import list_appeals

    return list_appeals(
        session, statuses=[state_id(s) for s in args.status] if args.status else None,
        category=category_id(args.category), station_code=location_code(args.town),
        urgent=True if args.urgent else None, overdue_on=_today() if args.overdue else None)


def _list(args: argparse.Namespace) -> None:
    today = _today()
    with _session() as session:
        records = [as_dict(a, args.show_phone, today) for a in _appeals(args, session)]
    if args.json:
        print(json.dumps(records, ensure_ascii=False, indent=2))
    elif args.csv:
        sys.stdout.write(csv_text(records))
    elif not records:
        print("没有符合条件的诉求。")
    else:
        for r in records:
            flags = ("【紧急】" if r["urgent"] else "") + ("【超期】" if r["overdue"] else "")
            print(f"{flags}{r['reference']}  {r['status_label']}  期限 {r['deadline'] or '未定'}  "
                  f"{r['category_label']}  {r['town']}  {r['name']}  {r['phone']}  "
                  f"承办 {r['assignee_label'] or '—'}")
            print(f"    {_short(r['description'])}")
        print(f"共 {len(records)} 件")


def _short(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def _export(args: argparse.Namespace) -> None:
    today = _today()
    with _session() as session:
        text = csv_text([as_dict(a, args.show_phone, today) for a in _appeals(args, session)])
    if args.csv_file is None:
        sys.stdout.write(text)
        return
    try:
        with open(args.csv_file, "w", encoding="utf-8-sig", newline="") as f:
            f.write(text)
    except OSError as error:
        raise Refusal(f"无法写入文件 {args.csv_file}：{error.strerror}") from None
    print(f"已导出 {text.count(chr(10)) - 1} 件诉求到 {args.csv_file}")


def _show(args: argparse.Namespace) -> None:
    from appeals.service import NotFound, get_by_reference, status_text

    today = _today()
    with _session() as session:
        appeal = get_by_reference(session, args.reference)
        if appeal is None:
            raise NotFound()
        record = as_dict(appeal, show_phone=True, today=today)
        record["told"] = status_text(appeal, today)
        events = [event_dict(e) for e in appeal.events]
    if args.json:
        print(json.dumps({**record, "events": events}, ensure_ascii=False, indent=2))
        return
    urgent = f"紧急（{'、'.join(label(s) for s in record['urgent_signals'])}）" if record["urgent"] else "否"
    print(f"编号      {record['reference']}（{record['status_label']}）")
    print(f"分类      {record['category_label']}")
    print(f"紧急      {urgent}")
    print(f"期限      {record['deadline'] or '未定'}{'（已超期）' if record['overdue'] else ''}")
    print(f"承办      {record['assignee_label'] or '—'}")
    print(f"姓名      {record['name']}")
    print(f"手机      {record['phone']}")
    print(f"镇村      {record['town']}")
    print(f"要上门    {'是' if record['visit_wanted'] else '否'}")
    print(f"渠道      {record['channel'] or '—'}")
    print(f"诉求内容  {record['description']}")
    print(f"老兵看到  {record['told']}")
    print("记录：")
    for e in events:
        print(f"  {e['at']}  {e['actor']}（{e['role']}）  {event_text(e)}")


def _update(args: argparse.Namespace) -> None:
    from appeals.service import transition

    with _session() as session:
        appeal = transition(session, args.reference, state_id(args.to), actor=_staff(args.by),
                            role=args.role, note=args.note, assignee=assignee_id(args.assignee))
        label = _workflow().state(appeal.status).label
        print(f"诉求 {appeal.reference} 已改为“{label}”，期限 {appeal.deadline or '未定'}。操作人：{args.by}")
        print(_told(appeal))


def _told(appeal) -> str:
    """Whether the step was told to the veteran (appeals/notices.py), for staff."""
    from vetbot.notify import reaches_on_wechat

    if not _workflow().state(appeal.status).tell:
        return "这一步不通知老兵。"
    if reaches_on_wechat(appeal.channel, appeal.sender_id):
        return "已通过微信通知老兵。"
    return "老兵不是在微信上反映的：已加入诉求待办（vetbot appeals tasks），请电话告知。"


def _extend(args: argparse.Namespace) -> None:
    from appeals.service import extend

    with _session() as session:
        appeal = extend(session, args.reference, days=args.days, reason=args.reason,
                        approver=_staff(args.by), role=args.role)
        print(f"诉求 {appeal.reference} 已延期到 {appeal.deadline}。批准人：{args.by}")


def _stats(args: argparse.Namespace) -> None:
    from appeals.service import stats
    from booking.cli import _day

    with _session() as session:
        rows = stats(session, by=args.by, today=_today(), date_from=_day(args.date_from, "--from"),
                     date_to=_day(args.date_to, "--to"))
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        print("没有诉求。")
        return
    print("  ".join([{"town": "镇(街道)", "category": "分类", "month": "月份"}[args.by],
                     *STAT_HEADER.values()]))
    for row in rows:
        cells = [row[args.by]] + [_percent(row[k]) if k.endswith("rate") else str(row[k]) for k in STAT_HEADER]
        print("  ".join(cells))


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.1%}"


def _remind() -> None:
    from appeals.service import remind_overdue

    today = _today()
    with _session() as session:
        print(f"已排入 {remind_overdue(session, today)} 条催办（{today}）。")


def _tasks(args: argparse.Namespace) -> None:
    from appeals.notices import TASK_LABELS
    from vetbot.staff_tasks import open_tasks

    with _session() as session:
        if _task_done(session, args, TASK_LABELS, "已办"):
            return
        tasks = open_tasks(session, kinds=TASK_LABELS)
        if not tasks:
            print("没有诉求待办。")
            return
        for task in tasks:
            who = f"  交 {task.assignee}" if task.assignee else ""
            print(f"[{task.id}] {local_time(task.created_at)}  {TASK_LABELS[task.kind]}  编号 {task.reference}{who}")
            print("    " + task.text.replace("\n", "\n    "))
        print(f"共 {len(tasks)} 条。办完后：vetbot appeals tasks --done 编号 --by 姓名")
