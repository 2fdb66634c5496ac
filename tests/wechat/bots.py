"""Real `on_new_message` callables standing in for Rasa's agent in adapter-level tests."""
from __future__ import annotations

import asyncio

from rasa.core.channels.channel import UserMessage

MAIN_MENU = [
    {"title": "1 政策咨询", "payload": "/ask_policy"},
    {"title": "2 预约代办", "payload": "/book_service"},
    {"title": "3 反映诉求", "payload": "/file_appeal"},
    {"title": "4 转人工", "payload": "/request_human"},
]


class EchoBot:
    """Answers "收到：<text>", optionally after a delay; records every turn."""

    def __init__(self, delay: float = 0.0, answer=None) -> None:
        self.delay = delay
        self.answer = answer or (lambda text: f"收到：{text}")
        self.messages: list[UserMessage] = []

    @property
    def texts(self) -> list[str]:
        return [message.text for message in self.messages]

    @property
    def turns(self) -> int:
        return len(self.messages)

    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)
        if self.delay:
            await asyncio.sleep(self.delay)
        await message.output_channel.send_text_message(message.sender_id, self.answer(message.text))


class ButtonsBot(EchoBot):
    """Greets with the main menu as buttons (like utter_greet); echoes payloads it receives."""

    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)
        if message.text.startswith("/"):
            await message.output_channel.send_text_message(message.sender_id, f"意图：{message.text}")
            return
        await message.output_channel.send_text_message(message.sender_id, "您好！我是平湖市退役军人事务局的服务助手。")
        await message.output_channel.send_text_with_buttons(message.sender_id, "我可以帮您：", MAIN_MENU)


class RaisingBot(EchoBot):
    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)
        raise RuntimeError("Traceback: tracker store exploded")


class SilentBot(EchoBot):
    """What Rasa does when a custom action fails: the turn ends without a message."""

    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)
