"""Rasa's REST channel, at the same URL (/webhooks/rest/webhook), that never answers a veteran
with silence. Rasa swallows a failed custom action (the action server down, a database error)
and may answer nothing; the veteran would not know whether an appeal or a booking was taken.
Here they are told to try again — and nothing was saved, since every write commits before the
bot confirms it. credentials.yml names this class instead of `rest:`, and the socket.io channel
below instead of `socketio:`; both cap a veteran's message as vetbot/message_cap.py says."""
from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from rasa.core.channels.socketio import SocketIOInput as RasaSocketIOInput

from vetbot.config import hotline
from vetbot.message_cap import capped

logger = logging.getLogger(__name__)


def apology() -> str:
    return f"抱歉，系统暂时出了点问题，刚才的内容没有办成，请您稍后再发一次。着急的话请拨打服务热线：{hotline()}。"


class RestInput(RasaRestInput):
    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]):
        async def answered(message: UserMessage) -> None:
            try:
                await on_new_message(message)
            finally:
                collector = message.output_channel
                if isinstance(collector, CollectingOutputChannel) and not collector.messages:
                    logger.warning("no reply to a REST message from %s: told to try again", message.sender_id)
                    await collector.send_text_message(message.sender_id, apology())
        return super().blueprint(capped(answered))


class SocketIOInput(RasaSocketIOInput):
    """Rasa's socket.io channel (same name, path and events) with the message cap."""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]):
        return super().blueprint(capped(on_new_message))
