"""`vetbot users add|list|disable|reset-password` on a migrated SQLite database; the account it
makes logs in to the console."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from console.models import StaffAudit, StaffSession, StaffUser
from tests.console.conftest import login
from vetbot.cli import main
from vetbot.storage import session_scope

VETBOT = Path(sys.executable).parent / "vetbot"
PASSWORD = "long-enough-pw-1"


def run(capsys, monkeypatch, *argv, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(["users", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _users() -> list[tuple[str, str, str, bool]]:
    with session_scope() as session:
        return [(u.username, u.display_name, u.role, u.active)
                for u in session.execute(select(StaffUser).order_by(StaffUser.username)).scalars()]


def test_add_list_disable_and_reset(console_client, capsys, monkeypatch):
    assert run(capsys, monkeypatch, "add", "Wang", "--display-name", "王五", "--role", "管理员", "--password-stdin",
               stdin=PASSWORD + "\n") == (0, "已新建管理员账号 wang（王五）。\n", "")
    assert run(capsys, monkeypatch, "add", "li", "--display-name", "李四", "--password-stdin",
               stdin=PASSWORD + "\n")[0] == 0
    assert _users() == [("li", "李四", "operator", True), ("wang", "王五", "admin", True)]
    code, out, _ = run(capsys, monkeypatch, "list")
    assert (code, out.splitlines()) == (0, ["账号\t姓名\t角色\t状态", "li\t李四\t接线员\t使用中",
                                            "wang\t王五\t管理员\t使用中"])

    assert login(console_client, "li", PASSWORD).status_code == 200
    assert run(capsys, monkeypatch, "disable", "li") == (0, "已停用账号 li，结束了 1 个登录。\n", "")
    assert console_client.get("/api/me").status_code == 401
    assert run(capsys, monkeypatch, "list")[1].splitlines()[1] == "li\t李四\t接线员\t已停用"

    code, out, _ = run(capsys, monkeypatch, "reset-password", "wang", "--password-stdin", stdin="another-password\n")
    assert code == 0 and "已重设 wang 的密码" in out
    assert login(console_client, "wang", PASSWORD).status_code == 401
    assert login(console_client, "wang", "another-password").status_code == 200

    with session_scope() as session:
        actions = [(row.username, row.action, row.target_id) for row in session.execute(
            select(StaffAudit).where(StaffAudit.action.like("user_%")).order_by(StaffAudit.id)).scalars()]
    assert actions == [("cli", "user_add", "wang"), ("cli", "user_add", "li"), ("cli", "user_disable", "li"),
                       ("cli", "user_reset_password", "wang")]


def test_refusals_are_one_chinese_line_and_change_nothing(console_db, capsys, monkeypatch):
    assert run(capsys, monkeypatch, "add", "wang", "--display-name", "王五", "--password-stdin",
               stdin="short\n") == (1, "", "密码至少要 10 个字符。\n")
    assert run(capsys, monkeypatch, "add", "wang", "--display-name", "王五", "--role", "boss",
               "--password-stdin", stdin=PASSWORD)[2] == "角色只能是 operator（接线员）或 admin（管理员）。\n"
    assert run(capsys, monkeypatch, "add", "王五", "--display-name", "王五", "--password-stdin",
               stdin=PASSWORD)[2].startswith("账号名用")
    assert _users() == []
    run(capsys, monkeypatch, "add", "wang", "--display-name", "王五", "--password-stdin", stdin=PASSWORD)
    assert run(capsys, monkeypatch, "add", "wang", "--display-name", "王", "--password-stdin",
               stdin=PASSWORD) == (1, "", "账号 wang 已经有了。\n")
    assert run(capsys, monkeypatch, "disable", "nobody") == (1, "", "没有账号 nobody。\n")
    assert run(capsys, monkeypatch, "reset-password", "nobody", "--password-stdin", stdin=PASSWORD) == (
        1, "", "没有账号 nobody。\n")
    assert run(capsys, monkeypatch, "list")[0] == 0


def test_password_is_asked_twice_without_echo(console_db, capsys, monkeypatch):
    answers = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    assert run(capsys, monkeypatch, "add", "wang", "--display-name", "王五") == (
        1, "", "两次输入的密码不一样，账号没有改动。\n")
    answers = iter([PASSWORD, PASSWORD])
    assert run(capsys, monkeypatch, "add", "wang", "--display-name", "王五")[0] == 0
    assert _users() == [("wang", "王五", "operator", True)]


def test_the_installed_command_makes_an_account_that_logs_in(console_client, console_db):
    """The real `vetbot` entry point in a child process, as scripts and the browser tests use it."""
    done = subprocess.run([str(VETBOT), "users", "add", "zhang", "--display-name", "张三", "--password-stdin"],
                          input=PASSWORD + "\n", capture_output=True, text=True, env=dict(os.environ), timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (0, "已新建接线员账号 zhang（张三）。\n", "")
    assert login(console_client, "zhang", PASSWORD).status_code == 200
    with session_scope() as session:
        assert len(session.execute(select(StaffSession)).all()) == 1
