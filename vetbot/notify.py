"""Notices to veterans through the channel they came on, shared by bookings and appeals:
WeChat → the outbox (wechat_adapter, sent by customer-service or template message, retried);
any other channel, or none (staff took it on the phone) → a staff task, for someone to phone them.

Each notice has a dedupe key: queued once however often, and by however many processes, it is
asked for. Everything is written in the caller's transaction, so a notice exists exactly when the
change it reports was committed."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from vetbot.staff_tasks import StaffTask, add_task
from wechat_adapter.models import OutboxMessage, insert_message

WECHAT = "wechat"  # the channel name of the 公众号 (wechat_adapter.turns.CHANNEL_NAME)


def send_notice(session: Session, *, channel: str | None, sender_id: str | None, reference: str,
                kind: str, text: str, dedupe_key: str) -> bool:
    """Queue the notice for the veteran of `reference`; True if it was new."""
    if reaches_on_wechat(channel, sender_id):
        _, added = insert_message(session.connection(), sender_id, text, kind, dedupe_key=dedupe_key)
        return added
    return add_task(session, kind=kind, reference=reference, text=text, dedupe_key=dedupe_key)


def reaches_on_wechat(channel: str | None, sender_id: str | None) -> bool:
    """Whether send_notice goes to the outbox (else: the staff call list)."""
    return channel == WECHAT and bool(sender_id)


def queued_keys(session: Session, keys: list[str]) -> set[str]:
    """Which of these dedupe keys are already in the outbox or the staff tasks."""
    if not keys:
        return set()
    found = set(session.execute(select(OutboxMessage.dedupe_key)
                                .where(OutboxMessage.dedupe_key.in_(keys))).scalars())
    return found | set(session.execute(select(StaffTask.dedupe_key)
                                       .where(StaffTask.dedupe_key.in_(keys))).scalars())
