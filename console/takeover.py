"""Human takeover: a staff member takes a conversation from the bot, replies on the veteran's own
channel, and hands it back.

The bot is paused and resumed through Rasa's HTTP API (`pause` / `resume` events), so Rasa itself
stops answering; a staff reply is a `bot` event with {"vetbot_staff": display name,
"vetbot_staff_user": username} in its metadata (the event-broker feed turns it into a staff line of
the transcript). Where the reply can go depends on the channel:

- socketio (web chat): Rasa sends it through the channel's output channel to the browser's room;
- wechat: inside 48 h of the veteran's last message Rasa sends it through the WeChat channel's
  output channel (customer-service API, the outbox if that fails); later only a template message
  can reach them, queued in the outbox here — or nothing, when no template is configured;
- rest: nobody listens after the answer to a request, so a reply cannot be delivered.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import or_, update

from console import audit, rasa_api
from console.auth import StaffPrincipal
from console.models import BOT, STAFF, Conversation, StaffUser
from vetbot.settings import settings
from vetbot.storage import session_scope, utcnow
from wechat_adapter.models import insert_message
from wechat_adapter.outbox import CUSTOMER_SERVICE_WINDOW

logger = logging.getLogger(__name__)

DIRECT, TEMPLATE, NONE = "direct", "template", "none"
STAFF_REPLY_KIND = "staff_reply"  # outbox kind: WECHAT_TEMPLATE_STAFF_REPLY, else WECHAT_TEMPLATE_NOTICE
RELEASE_NOTE = "工作人员已结束人工服务，您可以继续问我。"
MAX_REPLY_CHARS = 1000


class TakeoverRefused(Exception):
    """A takeover action that cannot be done; str() is the reason for staff, `status` the HTTP code."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ReplyWindow:
    can_reply: bool
    path: str  # direct / template / none
    until: datetime | None  # WeChat: the end of the 48-hour window
    notice: str  # one line for staff


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


def wechat_template() -> str | None:
    templates = settings().wechat_templates
    return templates.get(STAFF_REPLY_KIND) or templates.get("notice")


def reply_window(channel: str | None, last_user_at: datetime | None, now: datetime | None = None) -> ReplyWindow:
    """Can a staff reply reach the veteran now, and how."""
    now = now or utcnow()
    if channel == "socketio":
        return ReplyWindow(True, DIRECT, None, "回复会直接显示在对方的网页聊天里。")
    if channel == "wechat":
        last = _aware(last_user_at)
        until = last + timedelta(seconds=CUSTOMER_SERVICE_WINDOW) if last else None
        if until and now < until:
            return ReplyWindow(True, DIRECT, until, "对方在48小时内发过消息，回复会直接发到对方微信。")
        if wechat_template():
            return ReplyWindow(True, TEMPLATE, until,
                               "对方超过48小时没有发消息，微信只允许发模板通知：回复会以通知的形式发出，请写简短些。")
        return ReplyWindow(False, NONE, until, "对方超过48小时没有发消息，又没有配置模板通知，回复发不出去，请打电话联系。")
    if channel == "rest":
        return ReplyWindow(False, NONE, None, "这个对话来自网页接口，没法主动发消息给对方，请打电话联系。")
    return ReplyWindow(False, NONE, None, "不知道对方用的是什么渠道，回复发不出去，请打电话联系。")


def _conversation(session, sender_id: str) -> Conversation:
    conversation = session.get(Conversation, sender_id)
    if conversation is None:
        raise TakeoverRefused("找不到这个对话。", status=404)
    return conversation


def _holder_name(session, username: str | None) -> str:
    """The display name staff know each other by."""
    user = session.query(StaffUser).filter_by(username=username).one_or_none() if username else None
    return user.display_name if user else (username or "其他人")


def take(staff: StaffPrincipal, sender_id: str) -> Conversation:
    """Claim the conversation in the database first (so two staff cannot both take it), then pause
    the bot in Rasa; if Rasa refuses, the claim is undone."""
    with session_scope() as session:
        conversation = _conversation(session, sender_id)
        before = (conversation.state, conversation.holder, conversation.waiting_since)
        claimed = session.execute(
            update(Conversation)
            .where(Conversation.sender_id == sender_id,
                   or_(Conversation.state != STAFF, Conversation.holder == staff.username))
            .values(state=STAFF, holder=staff.username)).rowcount
        if not claimed:
            raise TakeoverRefused(f"这个对话已由{_holder_name(session, conversation.holder)}接管。")
    try:
        rasa_api.append_events(sender_id, [rasa_api.pause_event()])
    except rasa_api.RasaError:
        with session_scope() as session:
            session.execute(update(Conversation).where(Conversation.sender_id == sender_id,
                                                       Conversation.holder == staff.username)
                            .values(state=before[0], holder=before[1], waiting_since=before[2]))
        raise
    with session_scope() as session:
        conversation = _conversation(session, sender_id)
        conversation.waiting_since = None
        audit.record(session, staff, "takeover", "conversation", sender_id)
    return conversation


def _held_by(session, staff: StaffPrincipal, sender_id: str, admin_may: bool = False) -> Conversation:
    conversation = _conversation(session, sender_id)
    if conversation.state != STAFF:
        raise TakeoverRefused("请先接管这个对话。")
    if conversation.holder != staff.username and not (admin_may and staff.role == "admin"):
        raise TakeoverRefused(f"这个对话由{_holder_name(session, conversation.holder)}处理，您不能代为操作。")
    return conversation


def _deliver(staff: StaffPrincipal, conversation: Conversation, events: list[dict], text: str,
             window: ReplyWindow) -> None:
    """Append the events in Rasa; deliver `text` (the bot event's) on the path the window allows."""
    sender_id = conversation.sender_id
    if window.path == DIRECT:
        rasa_api.append_events(sender_id, events, output_channel=conversation.channel)
        return
    rasa_api.append_events(sender_id, events)  # recorded in the conversation, sent by no channel
    if window.path == TEMPLATE:
        with session_scope() as session:
            insert_message(session.connection(), sender_id, f"工作人员{staff.display_name}：{text}",
                           STAFF_REPLY_KIND, via="template")


def reply(staff: StaffPrincipal, sender_id: str, text: str) -> ReplyWindow:
    text = (text or "").strip()
    if not text:
        raise TakeoverRefused("回复不能是空的。", status=422)
    if len(text) > MAX_REPLY_CHARS:
        raise TakeoverRefused(f"回复太长了，请分几条发（每条最多{MAX_REPLY_CHARS}字）。", status=422)
    with session_scope() as session:
        conversation = _held_by(session, staff, sender_id)
    window = reply_window(conversation.channel, conversation.last_user_at)
    if not window.can_reply:
        raise TakeoverRefused(window.notice)
    metadata = {"vetbot_staff": staff.display_name, "vetbot_staff_user": staff.username}
    _deliver(staff, conversation, [rasa_api.bot_event(text, metadata)], text, window)
    with session_scope() as session:
        # No text in the audit: a reply may quote a phone or an ID number.
        audit.record(session, staff, "reply", "conversation", sender_id,
                     {"path": window.path, "channel": conversation.channel, "chars": len(text)})
    return window


def release(staff: StaffPrincipal, sender_id: str) -> ReplyWindow:
    """Hand the conversation back: resume the bot, tell the veteran where the reply can reach them
    at once (a template notice only to say the bot is back would be noise), state bot."""
    with session_scope() as session:
        conversation = _held_by(session, staff, sender_id, admin_may=True)
    window = reply_window(conversation.channel, conversation.last_user_at)
    if window.path == DIRECT:
        note = rasa_api.bot_event(RELEASE_NOTE, {"vetbot_handback": staff.username})
        rasa_api.append_events(sender_id, [rasa_api.resume_event(), note], output_channel=conversation.channel)
    else:
        rasa_api.append_events(sender_id, [rasa_api.resume_event()])
    with session_scope() as session:
        conversation = _conversation(session, sender_id)
        previous = conversation.holder
        conversation.state, conversation.holder, conversation.waiting_since = BOT, None, None
        audit.record(session, staff, "release", "conversation", sender_id,
                     {"holder": previous, "note_sent": window.path == DIRECT})
    return window
