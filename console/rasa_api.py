"""A small client of Rasa's HTTP API (settings().rasa_url, ?token=settings().rasa_api_token):
append events to a conversation, read its tracker.

Every failure becomes RasaError, whose str() is one Chinese line staff can read; the details go
to the log (status and path only: a response body may quote what the veteran said)."""
from __future__ import annotations

import logging
from urllib.parse import quote

import httpx

from vetbot.settings import settings

logger = logging.getLogger(__name__)

TIMEOUT = 15.0  # a staff reply goes through the output channel (WeChat API: up to 10 s)
TRANSPORT: httpx.BaseTransport | None = None  # tests put a transport here


class RasaError(Exception):
    """The bot server did not do what was asked; str() is the message for staff."""


def _client() -> httpx.Client:
    config = settings()
    params = {"token": config.rasa_api_token} if config.rasa_api_token else {}
    return httpx.Client(base_url=config.rasa_url, params=params, timeout=TIMEOUT, transport=TRANSPORT)


def _request(method: str, path: str, **kwargs) -> dict:
    try:
        with _client() as client:
            response = client.request(method, path, **kwargs)
    except httpx.TimeoutException:
        logger.warning("Rasa API %s %s timed out", method, path)
        raise RasaError("机器人服务没有及时响应，请稍后再试。") from None
    except httpx.HTTPError as error:
        logger.warning("Rasa API %s %s unreachable: %s", method, path, type(error).__name__)
        raise RasaError("连不上机器人服务，请稍后再试；一直不行请联系管理员。") from None
    if response.status_code in (401, 403):
        logger.error("Rasa API %s %s refused the token (%s)", method, path, response.status_code)
        raise RasaError("机器人服务拒绝了控制台的请求（令牌不对），请联系管理员。")
    if response.status_code >= 400:
        logger.error("Rasa API %s %s answered %s", method, path, response.status_code)
        raise RasaError("机器人服务出错了，这一步没有办成，请稍后再试。")
    try:
        return response.json()
    except ValueError:
        logger.error("Rasa API %s %s answered something that is not JSON", method, path)
        raise RasaError("机器人服务出错了，这一步没有办成，请稍后再试。") from None


def _conversation_path(sender_id: str, tail: str) -> str:
    return f"/conversations/{quote(sender_id, safe='')}/{tail}"


def append_events(sender_id: str, events: list[dict], output_channel: str | None = None) -> dict:
    """Append events to the conversation. With `output_channel` Rasa also executes their side
    effects: the `bot` events are sent through that channel's output channel to the veteran."""
    params = {}
    if output_channel:
        params = {"output_channel": output_channel, "execute_side_effects": "true"}
    return _request("POST", _conversation_path(sender_id, "tracker/events"), json=events, params=params)


def get_tracker(sender_id: str) -> dict:
    return _request("GET", _conversation_path(sender_id, "tracker"))


def pause_event() -> dict:
    return {"event": "pause"}


def resume_event() -> dict:
    return {"event": "resume"}


def bot_event(text: str, metadata: dict | None = None) -> dict:
    return {"event": "bot", "text": text, "data": {}, "metadata": metadata or {}}
