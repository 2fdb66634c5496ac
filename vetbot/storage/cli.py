"""`vetbot db upgrade`: apply the storage migrations (make run and make test call it)."""
from __future__ import annotations

import argparse
import sys


def register(groups) -> None:
    db = groups.add_parser("db", help="数据库（迁移）").add_subparsers(dest="action", required=True)
    upgrade = db.add_parser("upgrade", help="apply every migration not yet applied")
    upgrade.add_argument("--url", help="database URL (default: $VETBOT_DATABASE_URL or SQLite in the data dir)")
    upgrade.set_defaults(handler=_upgrade)


def _upgrade(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError

    from vetbot.storage import database_url, upgrade_to_head

    url = _without_password(args.url or database_url())
    try:
        upgrade_to_head(args.url)
    except OperationalError as error:
        print(f"无法连接数据库 {url}：{error.orig}", file=sys.stderr)
        return 1
    print(f"数据库已是最新结构：{url}")
    return 0


def _without_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
