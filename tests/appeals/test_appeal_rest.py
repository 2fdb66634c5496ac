"""End to end over REST, as a veteran: file an appeal about 义务兵家庭优待金 not paid, ask where it
stands, add to it; the same appeal sent again is the same ticket; danger in the words gets the
hotline at once and an urgent ticket. Staff see it in `vetbot appeals list --json`."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vetbot.config import hotline

pytestmark = pytest.mark.stack
PHONE = "13857312345"
VETBOT = Path(sys.executable).parent / "vetbot"
MATTER = "我儿子去年当的兵 义务兵家庭优待金到现在一分钱都没发 村里说不归他们管"


@pytest.fixture(scope="module")
def stack(live_stack):
    return live_stack[1]


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def listed(stack, *flags) -> list[dict]:
    out = subprocess.run([str(VETBOT), "appeals", "list", "--json", *flags], env=stack.env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def file(stack, me: str, matter: str) -> str:
    """One whole conversation; the reply to the confirmation."""
    stack.say(me, matter)
    for answer in ("就业创业", "王建国", PHONE, "新埭镇 鱼圻塘村", "不用上门"):
        stack.say(me, answer)
    return texts(stack.say(me, "确认"))


def test_file_ask_status_and_add(stack):
    me = "rest-appeal-1"
    first = texts(stack.say(me, MATTER))
    assert "待遇落实" in first  # the category proposed from the words
    stack.say(me, "待遇落实")
    assert "手机号" in texts(stack.say(me, "王建国"))
    stack.say(me, PHONE)
    assert "上门" in texts(stack.say(me, "新埭镇 鱼圻塘村"))
    read_back = texts(stack.say(me, "不用上门"))
    assert "优待金" in read_back and "138****2345" in read_back
    done = texts(stack.say(me, "确认"))
    assert "诉求编号：" in done and "工作日" in done
    reference = done.split("诉求编号：")[1][:7]

    mine = [a for a in listed(stack) if a["reference"] == reference]
    assert len(mine) == 1 and mine[0]["category"] == "daiyu"
    assert PHONE not in json.dumps(mine)

    # the confirmation delivered again changes nothing
    stack.say(me, "确认")
    assert [a["reference"] for a in listed(stack)].count(reference) == 1

    # another conversation asks where it stands: the number, then the phone as the check
    other = "rest-appeal-2"
    assert "手机号" in texts(stack.say(other, f"查一下诉求 {reference}"))
    status = texts(stack.say(other, PHONE))
    assert reference in status and "已受理" in status and "前" in status
    assert "记到您的诉求" in texts(stack.say(other, "我要补充情况"))
    assert reference in texts(stack.say(other, "村里又说要等通知 一直拖着"))


def test_the_same_appeal_filed_twice_the_same_day_is_one_ticket(stack):
    me = "rest-appeal-3"
    first = file(stack, me, "安置单位一直不给我安排工作 我退伍两年了")
    second = file(stack, me, "安置单位一直不给我安排工作 我退伍两年了")
    reference = first.split("诉求编号：")[1][:7]
    assert second.split("诉求编号：")[1][:7] == reference
    assert [a["reference"] for a in listed(stack)].count(reference) == 1


def test_danger_gets_the_hotline_at_once_and_an_urgent_ticket(stack):
    me = "rest-appeal-4"
    first = texts(stack.say(me, "我要反映 家里实在过不下去了 我真的不想活了"))
    assert hotline() in first and "110" in first
    stack.say(me, "生活困难")
    for answer in ("李秀英", "13958312346", "广陈镇", "需要上门"):
        stack.say(me, answer)
    done = texts(stack.say(me, "确认"))
    reference = done.split("诉求编号：")[1][:7]
    assert reference in [a["reference"] for a in listed(stack, "--urgent")]


def test_with_the_action_server_down_the_veteran_is_told_to_try_again_and_nothing_is_saved(stack):
    from vetbot.rest_channel import apology

    def unreachable() -> int:  # Rasa's log line for an action server it cannot connect to
        return stack.rasa_log.read_text(errors="replace").count("Couldn't connect to the server")

    # A conversation under way (its session started while the action server was up): the first
    # message of a new one needs the action server for its session start (bot/actions/session.py,
    # which keeps a staff takeover across sessions) and gets the fallback reply instead.
    me = "rest-appeal-down"
    stack.say(me, "你好")
    before, unreachable_before = {a["reference"] for a in listed(stack)}, unreachable()
    with stack.proxy.down() as proxy:
        assert texts(stack.say(me, "我要反映 安置单位一直不给我安排工作")) == apology()
        assert texts(stack.say(me, "确认")) == apology()
        assert proxy.dropped and unreachable() > unreachable_before, "Rasa saw the action server down"
    assert {a["reference"] for a in listed(stack)} == before
