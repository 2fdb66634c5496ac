"""Who answers a conversation: the bot, a person (asked for, not yet taken), or a staff member.

Used outside the console too — by the action server (the hand-over reply, action_session_start)
and by the channels inside Rasa (the bot failed; must the bot stay silent?) — so this module needs
only the shared storage, nothing of the web application."""
from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError

from console.models import STAFF, WAITING, Conversation, ConversationMessage
from vetbot.storage.base import utcnow
from vetbot.storage.engine import session_scope

logger = logging.getLogger(__name__)


def held_by_person(sender_id: str) -> bool:
    """True while a staff member holds the conversation: the bot must say nothing."""
    with session_scope() as session:
        conversation = session.get(Conversation, sender_id)
        return conversation is not None and conversation.state == STAFF


def open_for_person(sender_id: str, channel: str | None, reason: str) -> bool:
    """Mark the conversation waiting for a person (the veteran asked for one, or the bot failed).
    Returns True when it became waiting now; a conversation a staff member already holds, or one
    already waiting, is left as it is. `reason` is a short Chinese line staff see in the transcript."""
    for attempt in range(2):  # the event-broker feed may create the same row at the same moment
        try:
            return _open(sender_id, channel, reason)
        except IntegrityError:
            if attempt:
                raise
    return False


def _open(sender_id: str, channel: str | None, reason: str) -> bool:
    now = utcnow()
    with session_scope() as session:
        conversation = session.get(Conversation, sender_id)
        if conversation is None:
            conversation = Conversation(sender_id=sender_id, channel=channel, last_at=now, misses=0)
            session.add(conversation)
        elif conversation.state in (STAFF, WAITING):
            return False
        conversation.state = WAITING
        conversation.waiting_since = now
        conversation.holder = None
        session.flush()
        session.add(ConversationMessage(sender_id=sender_id, at=now, kind="note", text=reason))
    logger.info("Conversation %s is waiting for a person: %s", sender_id, reason)
    return True
