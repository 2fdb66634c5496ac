"""`vetbot wechat ...`: menu publishing and the notification outbox."""
from __future__ import annotations

import argparse
import asyncio
import datetime
import logging
import sys

from vetbot.config import redis_url
from wechat_adapter.menu import MENU_FILE, MenuError, load_menu, push_menu, validate_menu
from wechat_adapter.settings import WeChatSettings


def register(groups: argparse._SubParsersAction) -> None:
    wechat = groups.add_parser("wechat", help="公众号 (WeChat official account) adapter")
    commands = wechat.add_subparsers(dest="wechat_command", required=True)

    menu = commands.add_parser("menu", help="the 公众号 custom menu")
    menu_commands = menu.add_subparsers(dest="menu_command", required=True)
    push = menu_commands.add_parser("push", help="validate menu.yml and publish it (cgi-bin/menu/create)")
    push.add_argument("--file", default=str(MENU_FILE), help="menu YAML (default: wechat_adapter/menu.yml)")
    push.add_argument("--dry-run", action="store_true", help="validate and print the JSON, send nothing")
    push.set_defaults(handler=menu_push)
    check = menu_commands.add_parser("validate", help="check menu.yml against WeChat's limits")
    check.add_argument("--file", default=str(MENU_FILE))
    check.set_defaults(handler=menu_validate)

    outbox = commands.add_parser("outbox", help="notifications waiting to be sent")
    outbox_commands = outbox.add_subparsers(dest="outbox_command", required=True)
    listing = outbox_commands.add_parser("list", help="show recent outbox messages")
    listing.add_argument("--status", choices=["pending", "sending", "sent", "failed", "staff"])
    listing.add_argument("--limit", type=int, default=30)
    listing.set_defaults(handler=outbox_list)
    retry = outbox_commands.add_parser("retry", help="queue failed / staff messages again")
    retry.add_argument("id", nargs="?", type=int, help="one message id (default: all failed and staff)")
    retry.set_defaults(handler=outbox_retry)
    send = outbox_commands.add_parser("send", help="send what is due now (or keep sending with --loop)")
    send.add_argument("--loop", action="store_true")
    send.add_argument("--interval", type=float, default=15.0)
    send.set_defaults(handler=outbox_send)


def _api(settings: WeChatSettings):
    from wechat_adapter.api import WeChatAPI
    from wechat_adapter.store import RedisStore

    shared = RedisStore.from_url(redis_url()) if redis_url() else None
    return WeChatAPI.from_settings(settings, shared_store=shared)


def _require_api(settings: WeChatSettings) -> bool:
    if not settings.api_configured:
        print("WECHAT_APP_ID and WECHAT_APP_SECRET must be set.", file=sys.stderr)
        return False
    return True


def menu_validate(args: argparse.Namespace) -> int:
    try:
        validate_menu(load_menu(args.file))
    except (MenuError, OSError) as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{args.file}: OK")
    return 0


def menu_push(args: argparse.Namespace) -> int:
    import json

    from wechat_adapter.api import WeChatAPIError
    from wechat_adapter.menu import wechat_payload

    try:
        menu = load_menu(args.file)
        validate_menu(menu)
    except (MenuError, OSError) as error:
        print(error, file=sys.stderr)
        return 1
    if args.dry_run:
        print(json.dumps(wechat_payload(menu), ensure_ascii=False, indent=2))
        return 0
    settings = WeChatSettings.from_env()
    if not _require_api(settings):
        return 2

    async def run() -> None:
        api = _api(settings)
        try:
            await push_menu(api, menu)
        finally:
            await api.close()

    try:
        asyncio.run(run())
    except WeChatAPIError as error:
        print(f"WeChat refused the menu: {error}", file=sys.stderr)
        return 1
    print("Menu published. WeChat clients pick it up within about 5 minutes.")
    return 0


def _when(timestamp: float | None) -> str:
    return datetime.datetime.fromtimestamp(timestamp).strftime("%m-%d %H:%M") if timestamp else "-"


def outbox_list(args: argparse.Namespace) -> int:
    from wechat_adapter.outbox import Outbox

    items = Outbox().list(args.status, args.limit)
    if not items:
        print("(empty)")
        return 0
    print(f"{'id':>5}  {'status':8} {'kind':16} {'tries':>5}  {'created':11}  {'next':11}  openid / text / last error")
    for item in items:
        text = item.text.replace("\n", " ")
        print(
            f"{item.id:>5}  {item.status:8} {item.kind[:16]:16} {item.attempts:>5}  {_when(item.created_at):11}  "
            f"{_when(item.next_attempt_at) if item.status == 'pending' else '-':11}  {item.openid}  {text[:30]}"
            + (f"  [{item.last_error}]" if item.last_error else "")
        )
    return 0


def outbox_retry(args: argparse.Namespace) -> int:
    from wechat_adapter.outbox import Outbox

    count = Outbox().retry(args.id)
    print(f"{count} message(s) queued again.")
    return 0 if count or args.id is None else 1


def outbox_send(args: argparse.Namespace) -> int:
    from wechat_adapter.outbox import Outbox, OutboxSender

    settings = WeChatSettings.from_env()
    if not _require_api(settings):
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def run() -> int:
        api = _api(settings)
        sender = OutboxSender(Outbox(), api, settings.templates)
        total = 0
        try:
            while True:
                handled = await sender.drain_once()
                total += handled
                if args.loop:
                    await asyncio.sleep(args.interval)
                elif not handled:
                    return total
        finally:
            await api.close()

    try:
        handled = asyncio.run(run())
    except KeyboardInterrupt:
        return 0
    print(f"{handled} message(s) handled.")
    return 0
