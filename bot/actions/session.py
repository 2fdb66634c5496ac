"""action_session_start that keeps a human takeover across a new session.

Rasa starts a new session after `session_expiration_time` of silence; the SessionStarted event
resets the tracker, `paused` included, so a conversation a staff member holds would silently get
the bot back. This action does what Rasa's default one does (SessionStarted, the slots carried
over, action_listen) and, while the console holds the conversation (Conversation.state == staff
in the shared database), pauses it again right after the session start."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, SessionStarted
from rasa_sdk.executor import CollectingDispatcher

from console.handover import held_by_person

logger = logging.getLogger(__name__)


def carried_slots(tracker: Tracker) -> list[dict[str, Any]]:
    """The slot events of the session that ends, as Rasa's default action carries them over
    (name, value and metadata of every SlotSet since the last restart or session start)."""
    slots: list[dict[str, Any]] = []
    for event in tracker.events:
        kind = event.get("event")
        if kind in ("restart", "session_started"):
            slots = []
        elif kind == "slot":
            slots.append({"event": "slot", "timestamp": None, "name": event.get("name"),
                          "value": event.get("value"), "metadata": event.get("metadata") or {}})
    return slots


async def _held(sender_id: str) -> bool:
    try:
        return await asyncio.to_thread(held_by_person, sender_id)
    except Exception:  # the shared database unreachable: start the session as Rasa would
        logger.exception("Could not tell whether staff hold %s", sender_id)
        return False


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
        events: list[dict[str, Any]] = [SessionStarted()]
        if (domain.get("session_config") or {}).get("carry_over_slots_to_new_session", True):
            events.extend(carried_slots(tracker))
        if await _held(tracker.sender_id):
            logger.info("New session of %s while a staff member holds it: paused again", tracker.sender_id)
            events.append(ConversationPaused())
        events.append(ActionExecuted("action_listen"))
        return events
