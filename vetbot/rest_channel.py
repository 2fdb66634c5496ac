"""Rasa's REST and socket.io channels, at the same URLs (/webhooks/rest/webhook, /socket.io),
that never answer a veteran with silence — unless a staff member holds the conversation.

Rasa swallows a failed custom action (the action server down, a database error) and may answer
nothing; the veteran would not know whether an appeal or a booking was taken. Here they are told
to try again — nothing was saved, since every write commits before the bot confirms it — and the
conversation opens for a person in the console (console/handover.py). While staff hold the
conversation Rasa is paused and answers nothing on purpose: then the channel says nothing either.
credentials.yml names these classes instead of `rest:` and `socketio:`; both cap a veteran's
message as vetbot/message_cap.py says."""
from __future__ import annotations

import asyncio
import logging
import re
import uuid
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from rasa.core.channels.socketio import SocketIOInput as RasaSocketIOInput
from rasa.core.channels.socketio import SocketIOOutput as RasaSocketIOOutput

from console.handover import held_by_person, open_for_person
from vetbot.config import hotline
from vetbot.message_cap import capped

logger = logging.getLogger(__name__)

STAFF_NAME_KEY = "vetbot_staff"  # metadata of a staff reply's `bot` event: the name shown to the veteran
NO_ANSWER = "机器人出错了，没有回答"  # the note staff see on a conversation opened for them
SESSION_ID = re.compile(r"[0-9a-f]{32}")  # what Rasa hands out (uuid4().hex) and /chat keeps


def apology() -> str:
    return f"抱歉，系统暂时出了点问题，刚才的内容没有办成，请您稍后再发一次。着急的话请拨打服务热线：{hotline()}。"


async def no_answer(message: UserMessage, send_apology: Callable[[], Awaitable[Any]]) -> None:
    """Rasa answered nothing: silence while a staff member holds the conversation, else the
    apology, and the conversation waits for a person."""
    sender_id = message.sender_id
    try:
        held = await asyncio.to_thread(held_by_person, sender_id)
    except Exception:
        logger.exception("could not tell whether staff hold %s", sender_id)
        held = False
    if held:
        logger.info("no reply to %s: a staff member holds the conversation, the bot stays silent", sender_id)
        return
    logger.warning("no reply to a %s message from %s: told to try again, opened for a person",
                   message.input_channel, sender_id)
    try:
        await asyncio.to_thread(open_for_person, sender_id, message.input_channel, NO_ANSWER)
    except Exception:
        logger.exception("could not open %s for a person", sender_id)
    await send_apology()


class RestInput(RasaRestInput):
    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]):
        async def answered(message: UserMessage) -> None:
            try:
                await on_new_message(message)
            finally:
                collector = message.output_channel
                if isinstance(collector, CollectingOutputChannel) and not collector.messages:
                    await no_answer(message, lambda: collector.send_text_message(message.sender_id, apology()))
        return super().blueprint(capped(answered))


class SocketIOOutput(RasaSocketIOOutput):
    """Rasa's socket.io output. A message a staff member sent through Rasa's HTTP API (a `bot`
    event whose metadata names them, see console/takeover.py) carries `staff_name`, so the web chat
    shows who wrote it; the staff login name stays out of the browser."""

    def __init__(self, sio: Any, bot_message_evt: str) -> None:
        super().__init__(sio, bot_message_evt)
        self.sent = 0  # messages emitted: none after a turn means Rasa answered nothing

    async def _send_message(self, socket_id: str, response: Any) -> None:
        self.sent += 1
        await super()._send_message(socket_id, response)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        staff_name = kwargs.get(STAFF_NAME_KEY)
        if not staff_name:
            await super().send_text_message(recipient_id, text, **kwargs)
            return
        for part in text.strip().split("\n\n"):
            await self._send_message(recipient_id, {"text": part, "staff_name": staff_name})


class SocketIOInput(RasaSocketIOInput):
    """Rasa's socket.io channel (same name, path and events) with the message cap, and three fixes:

    - the room: with `session_persistence` Rasa 3.6 calls python-socketio 5's coroutine
      `enter_room` without awaiting it (rasa issue #13027), so the socket never joins the room
      named by the session id and the replies emitted to that room reach nobody. Here the
      `session_request` handler awaits it;
    - a socket may only speak as a session it asked for (Rasa takes any `session_id` a client
      puts in a message), and a session id must look like one we hand out, so nobody can join or
      write into another channel's conversation by naming its sender id;
    - CORS: the /chat page is served by the console (another port or host) and polls this server;
      Rasa switches CORS headers off (`cors_allowed_origins=[]`), so browsers refuse the answers.
      `cors_allowed_origins` in credentials.yml says which origins may connect.

    `get_output_channel()` (what Rasa's HTTP API uses for `output_channel=socketio`) emits to the
    room of the conversation id, which with the fix is the veteran's browser."""

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> "SocketIOInput":
        channel = super().from_credentials(credentials)
        channel.cors_allowed_origins = (credentials or {}).get("cors_allowed_origins", "*")
        return channel

    def get_output_channel(self) -> SocketIOOutput | None:
        if self.sio is None:  # no server in this process: Rasa's warning and None
            return super().get_output_channel()
        return SocketIOOutput(self.sio, self.bot_message_evt)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]):
        on_capped_message = capped(on_new_message)

        async def answered(message: UserMessage) -> None:
            output = message.output_channel = SocketIOOutput(self.sio, self.bot_message_evt)  # counts
            try:
                await on_capped_message(message)
            finally:
                if not output.sent:
                    await no_answer(message, lambda: output.send_text_message(message.sender_id, apology()))

        blueprint = super().blueprint(answered)
        sio, namespace = self.sio, self.namespace or "/"
        # No cookies on this server, so no credentials across origins either.
        sio.eio.cors_allowed_origins = getattr(self, "cors_allowed_origins", "*")
        sio.eio.cors_credentials = False
        rasa_handle_message = sio.handlers[namespace][self.user_message_evt]

        @sio.on("session_request", namespace=namespace)
        async def session_request(sid: str, data: dict | None) -> None:
            session_id = (data or {}).get("session_id")
            if not (isinstance(session_id, str) and SESSION_ID.fullmatch(session_id)):
                session_id = uuid.uuid4().hex
            if self.session_persistence:
                await sio.enter_room(sid, session_id, namespace=namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=namespace)

        @sio.on(self.user_message_evt, namespace=namespace)
        async def handle_message(sid: str, data: Any) -> None:
            if not isinstance(data, dict):
                return
            if self.session_persistence and data.get("session_id") not in sio.rooms(sid, namespace):
                logger.warning("socket.io message for a session the socket did not request: ignored")
                return
            await rasa_handle_message(sid, data)

        return blueprint
