"""End to end on WeChat: a veteran files an appeal through the fake WeChat server and the real
servers; WeChat delivering the confirmation again (same MsgId, its retry) makes no second ticket,
and a new message with the same confirmation changes nothing either."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.stack
VETBOT = Path(sys.executable).parent / "vetbot"


def test_appeal_on_wechat_with_retried_confirmation(live_stack):
    fake, stack = live_stack
    url, openid = f"{stack.rasa_url}/webhooks/wechat/webhook", "oE2E_appeal"

    def say(text: str, msg_id: int | None = None) -> str:
        result = fake.push_text(url, openid, text, msg_id=msg_id, mode="safe")
        assert result.status == 200 and result.content, f"no passive reply to {text!r}"
        return result.content

    proposal = say("我家孩子在部队 义务兵家庭优待金今年一直没发下来")
    assert "待遇落实" in proposal and "回复数字" in proposal
    say("1")  # the first option: the category proposed
    say("张桂英")
    say("13958312346")
    say("独山港镇 全塘村")
    read_back = say("2")  # 不用，打电话就行
    assert "优待金" in read_back and "139****2346" in read_back
    confirm_id = fake.next_msg_id()
    done = say("确认", msg_id=confirm_id)
    assert "诉求编号：" in done
    reference = done.split("诉求编号：")[1][:7]
    assert say("确认", msg_id=confirm_id) == done  # WeChat's retry: the same answer, no new turn
    say("确认")  # sent again by hand: the form is over, nothing is filed

    listed = json.loads(subprocess.run([str(VETBOT), "appeals", "list", "--json"], env=stack.env,
                                       capture_output=True, text=True, check=True).stdout)
    mine = [a for a in listed if a["reference"] == reference]
    assert len(mine) == 1 and len([a for a in listed if a.get("channel") == "wechat"]) == 1
