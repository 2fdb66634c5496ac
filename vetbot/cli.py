"""`vetbot`: the admin command. Each capability registers its own subcommand group."""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vetbot", description="平湖退役军人服务助手 管理命令")
    groups = parser.add_subparsers(dest="group", required=True)
    from appeals.cli import register as register_appeals
    from booking.cli import register as register_bookings
    from console.cli import register as register_console
    from console.users_cli import register as register_users
    from knowledge.cli import register as register_kb
    from vetbot.jobs import register as register_jobs
    from vetbot.storage.cli import register as register_db
    from vetbot.supervise import register as register_supervise
    from wechat_adapter.cli import register as register_wechat

    register_kb(groups)
    register_wechat(groups)
    register_db(groups)
    register_bookings(groups)
    register_appeals(groups)
    register_jobs(groups)
    register_console(groups)
    register_users(groups)
    register_supervise(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
