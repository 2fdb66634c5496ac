"""`vetbot users add|list|disable|reset-password`: the console's staff accounts from the shell
(the first admin is made here). A password is asked twice without echo, or read from the first
line of stdin with --password-stdin (scripts, tests). Refusals are one Chinese line on stderr and
exit code 1; every change is in the audit log as "cli"."""
from __future__ import annotations

import argparse
import getpass
import sys

from console.models import ROLE_NAMES


def register(groups) -> None:
    users = groups.add_parser("users", help="控制台工作人员账号").add_subparsers(dest="action", required=True)

    add = users.add_parser("add", help="新建账号")
    add.add_argument("username", help="账号名（小写字母、数字或 . _ -）")
    add.add_argument("--display-name", required=True, help="姓名，老兵会看到，如 张三")
    add.add_argument("--role", default="operator", help="operator（接线员，默认）或 admin（管理员）")
    add.add_argument("--password-stdin", action="store_true", help="从标准输入的第一行读密码")
    add.set_defaults(handler=lambda args: _run(lambda: _add(args)))

    listing = users.add_parser("list", help="列出全部账号")
    listing.set_defaults(handler=lambda args: _run(_list))

    disable = users.add_parser("disable", help="停用账号（立即退出登录）")
    disable.add_argument("username")
    disable.set_defaults(handler=lambda args: _run(lambda: _disable(args)))

    reset = users.add_parser("reset-password", help="重设密码（该账号需重新登录）")
    reset.add_argument("username")
    reset.add_argument("--password-stdin", action="store_true", help="从标准输入的第一行读密码")
    reset.set_defaults(handler=lambda args: _run(lambda: _reset(args)))


def _run(command) -> int:
    """Reuse `vetbot bookings`' handling of a database that cannot be reached; a UserError is one line."""
    from booking.cli import Refusal
    from booking.cli import _run as run_with_database_errors
    from console.users import UserError

    def guarded():
        try:
            command()
        except UserError as error:
            raise Refusal(str(error)) from None

    return run_with_database_errors(guarded)


def _read_password(args: argparse.Namespace) -> str:
    from booking.cli import Refusal
    from console.users import check_password

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("密码（至少10位，输入时不显示）：")
        if getpass.getpass("再输入一次：") != password:
            raise Refusal("两次输入的密码不一样，账号没有改动。")
    check_password(password)
    return password


def _add(args: argparse.Namespace) -> None:
    from console.users import add_user, parse_role
    from vetbot.storage import session_scope

    role = parse_role(args.role)  # refuse a bad role before asking for the password
    password = _read_password(args)
    with session_scope() as session:
        user = add_user(session, args.username, args.display_name, role, password)
        print(f"已新建{ROLE_NAMES[user.role]}账号 {user.username}（{user.display_name}）。")


def _list() -> None:
    from console.users import list_users
    from vetbot.storage import session_scope

    with session_scope() as session:
        users = list_users(session)
        if not users:
            print("还没有账号。用 vetbot users add 账号名 --display-name 姓名 --role admin 新建管理员。")
            return
        print("账号\t姓名\t角色\t状态")
        for user in users:
            print(f"{user.username}\t{user.display_name}\t{ROLE_NAMES.get(user.role, user.role)}\t"
                  f"{'使用中' if user.active else '已停用'}")


def _disable(args: argparse.Namespace) -> None:
    from console.users import disable_user
    from vetbot.storage import session_scope

    with session_scope() as session:
        ended = disable_user(session, args.username)
    print(f"已停用账号 {args.username.strip().lower()}" + (f"，结束了 {ended} 个登录。" if ended else "。"))


def _reset(args: argparse.Namespace) -> None:
    from console.users import get_user, reset_password
    from vetbot.storage import session_scope

    with session_scope() as session:
        get_user(session, args.username)  # an unknown name is refused before the password is asked
    password = _read_password(args)
    with session_scope() as session:
        reset_password(session, args.username, password)
    print(f"已重设 {args.username.strip().lower()} 的密码，该账号需要重新登录。")
