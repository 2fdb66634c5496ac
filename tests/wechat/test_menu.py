"""menu.yml against WeChat's limits, and `vetbot wechat menu push` against the fake."""
from __future__ import annotations

import argparse
import copy

import pytest

from tests.wechat.conftest import APP_ID, APP_SECRET
from wechat_adapter.cli import register
from wechat_adapter.menu import MenuError, click_intents, load_menu, validate_menu, wechat_payload


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="vetbot")
    register(parser.add_subparsers(dest="group", required=True))
    args = parser.parse_args(list(argv))
    return args.handler(args)


def test_shipped_menu_is_valid_and_has_the_six_services():
    menu = load_menu()
    validate_menu(menu)
    assert click_intents(menu) == {
        "POLICY_QA": "/ask_policy",
        "BOOK_SERVICE": "/book_service",
        "CHECK_BOOKING": "/check_booking",
        "FILE_APPEAL": "/file_appeal",
        "CHECK_APPEAL": "/check_appeal",
        "REQUEST_HUMAN": "/request_human",
    }


def _problems(menu) -> str:
    with pytest.raises(MenuError) as error:
        validate_menu(menu)
    return str(error.value)


def test_limits_are_enforced():
    menu = load_menu()
    too_many = copy.deepcopy(menu)
    too_many["button"].append({"type": "click", "name": "更多", "key": "MORE", "intent": "/help"})
    assert "4 top-level buttons" in _problems(too_many)

    long_name = copy.deepcopy(menu)
    long_name["button"][0]["name"] = "退役军人政策咨询"
    assert "name" in _problems(long_name)

    crowded = copy.deepcopy(menu)
    crowded["button"][1]["sub_button"] *= 3
    problems = _problems(crowded)
    assert "6 sub-buttons" in problems and "duplicate key" in problems

    broken = copy.deepcopy(menu)
    broken["button"][0] = {"type": "click", "name": "咨询"}
    problems = _problems(broken)
    assert "needs a key" in problems and "needs an intent" in problems

    view = {"button": [{"type": "view", "name": "官网", "url": "ftp://x"}]}
    assert "http(s) url" in _problems(view)
    assert "button" in _problems({"menu": []})


def test_payload_drops_our_intent_field():
    payload = wechat_payload(load_menu())
    assert "intent" not in str(payload)
    assert payload["button"][0] == {"type": "click", "name": "政策咨询", "key": "POLICY_QA"}


def test_menu_push_command_publishes_with_the_cached_token(fake, monkeypatch):
    monkeypatch.setenv("WECHAT_APP_ID", APP_ID)
    monkeypatch.setenv("WECHAT_APP_SECRET", APP_SECRET)
    monkeypatch.setenv("WECHAT_API_BASE_URL", fake.base_url)
    assert cli("wechat", "menu", "push") == 0
    assert cli("wechat", "menu", "push") == 0
    assert fake.menus[0] == wechat_payload(load_menu())
    assert fake.token_fetches == 1  # the second push reused the cached token


def test_menu_push_refuses_an_invalid_menu_without_calling_wechat(fake, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("WECHAT_APP_ID", APP_ID)
    monkeypatch.setenv("WECHAT_APP_SECRET", APP_SECRET)
    monkeypatch.setenv("WECHAT_API_BASE_URL", fake.base_url)
    bad = tmp_path / "menu.yml"
    bad.write_text("button:\n  - name: 这是一个特别长的菜单名字\n    type: click\n    key: K\n    intent: /greet\n", encoding="utf-8")
    assert cli("wechat", "menu", "push", "--file", str(bad)) == 1
    assert "name" in capsys.readouterr().err
    assert fake.requests == []


def test_menu_push_needs_credentials(capsys):
    assert cli("wechat", "menu", "push") == 2
    assert "WECHAT_APP_ID" in capsys.readouterr().err


def test_outbox_commands(fake, monkeypatch, capsys, tmp_path):
    from tests.wechat.outbox_db import migrated_sqlite
    from wechat_adapter.outbox import Outbox, enqueue

    monkeypatch.setenv("VETBOT_DATABASE_URL", f"sqlite:///{migrated_sqlite(tmp_path)}")
    monkeypatch.setenv("WECHAT_APP_ID", APP_ID)
    monkeypatch.setenv("WECHAT_APP_SECRET", APP_SECRET)
    monkeypatch.setenv("WECHAT_API_BASE_URL", fake.base_url)
    first = enqueue("oVeteranA", "您的诉求已受理。", kind="appeal_update")  # never seen, no template
    assert cli("wechat", "outbox", "send") == 0
    assert Outbox().get(first).status == "staff"
    assert cli("wechat", "outbox", "list", "--status", "staff") == 0
    assert "您的诉求已受理" in capsys.readouterr().out
    monkeypatch.setenv("WECHAT_TEMPLATE_NOTICE", "TPL_NOTICE")
    assert cli("wechat", "outbox", "retry", str(first)) == 0
    assert cli("wechat", "outbox", "send") == 0
    assert Outbox().get(first).status == "sent"
    assert fake.template_messages[0]["template_id"] == "TPL_NOTICE"
