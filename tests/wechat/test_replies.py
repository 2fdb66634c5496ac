import asyncio

import pytest

from wechat_adapter.replies import (
    WECHAT_TEXT_LIMIT,
    OptionMemory,
    format_turn,
    parse_option_number,
    split_text,
    utf8_len,
)
from wechat_adapter.store import MemoryStore


def test_turn_becomes_one_text_with_numbered_options():
    turn = format_turn(
        [
            {"recipient_id": "o1", "text": "您好！我是服务助手。"},
            {
                "recipient_id": "o1",
                "text": "我可以帮您：",
                "buttons": [
                    {"title": "1 政策咨询", "payload": "/ask_policy"},
                    {"title": "预约代办", "payload": "/book_service"},
                    {"title": "3、转人工", "payload": "/request_human"},
                ],
            },
        ]
    )
    assert turn.text == "您好！我是服务助手。\n我可以帮您：\n回复数字：\n1 政策咨询\n2 预约代办\n3 转人工"
    assert turn.option_payloads == ["/ask_policy", "/book_service", "/request_human"]


def test_images_are_links_and_empty_turn_is_empty():
    assert format_turn([{"image": "https://example.org/a.png"}]).text == "图片：https://example.org/a.png"
    assert format_turn([]).text == ""


def test_short_text_is_not_split():
    assert split_text("你好。") == ["你好。"]


def test_split_respects_limit_and_sentence_boundaries():
    sentence = "退役军人优待证由户籍所在地退役军人事务部门负责受理。"  # 26 chars, 78 bytes
    text = sentence * 60
    parts = split_text(text)
    assert len(parts) > 1
    for part in parts:
        assert utf8_len(part) <= WECHAT_TEXT_LIMIT
        assert part.endswith("。")  # cut after a full stop, not mid-sentence
    assert "".join(parts) == text


def test_split_prefers_line_breaks():
    lines = [f"第{i}条：" + "请携带身份证和退役证。" * 5 for i in range(40)]
    parts = split_text("\n".join(lines))
    assert all(utf8_len(p) <= WECHAT_TEXT_LIMIT for p in parts)
    assert all(p.split("\n")[-1].startswith("第") for p in parts)
    assert "\n".join(parts) == "\n".join(lines)


def test_split_without_any_boundary_never_breaks_a_character():
    text = "军" * 5000 + "😀" * 100
    parts = split_text(text)
    assert "".join(parts) == text
    for part in parts:
        assert utf8_len(part) <= WECHAT_TEXT_LIMIT
        part.encode("utf-8").decode("utf-8")  # whole characters only


@pytest.mark.parametrize(
    "text,number",
    [("1", 1), (" 2 ", 2), ("１", 1), ("3。", 3), ("第2个", 2), ("三", 3), ("10", 10), ("1 政策", None), ("一次性补助", None), ("", None)],
)
def test_parse_option_number(text, number):
    assert parse_option_number(text) == number


def test_option_memory_maps_numbers_and_forgets():
    async def scenario():
        memory = OptionMemory(MemoryStore())
        await memory.remember("o1", ["/ask_policy", "/book_service"])
        assert await memory.resolve("o1", "2") == "/book_service"
        assert await memory.resolve("o1", "5") == "5"
        assert await memory.resolve("o2", "1") == "1"
        assert await memory.resolve("o1", "优待证") == "优待证"
        await memory.remember("o1", [])
        assert await memory.resolve("o1", "1") == "1"

    asyncio.run(scenario())
