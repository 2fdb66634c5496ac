"""Console tables: staff accounts and their sessions, login attempts, the staff audit log, and the
conversation list the event-broker feed keeps (one row per conversation, one per message)."""
from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint

from vetbot.storage.base import Base, UTCDateTime, utcnow

OPERATOR, ADMIN = "operator", "admin"  # 接线员 / 管理员
ROLES = (OPERATOR, ADMIN)
ROLE_NAMES = {OPERATOR: "接线员", ADMIN: "管理员"}

# Who holds a conversation: the bot, nobody yet (a person was asked for), or a staff member.
BOT, WAITING, STAFF = "bot", "waiting", "staff"
CONVERSATION_STATES = (BOT, WAITING, STAFF)


class StaffUser(Base):
    __tablename__ = "staff_user"
    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)
    display_name = Column(String(64), nullable=False)  # shown to veterans beside staff replies
    role = Column(String(16), nullable=False)
    password_hash = Column(String(255), nullable=False)  # argon2id
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    password_changed_at = Column(UTCDateTime, nullable=False, default=utcnow)


class StaffSession(Base):
    """A login. The cookie holds a random token; only its SHA-256 is stored here."""

    __tablename__ = "staff_session"
    token_hash = Column(String(64), primary_key=True)
    user_id = Column(Integer, ForeignKey("staff_user.id"), nullable=False, index=True)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    last_seen = Column(UTCDateTime, nullable=False, default=utcnow)
    expires_at = Column(UTCDateTime, nullable=False)  # absolute end; idle expiry uses last_seen


class LoginAttempt(Base):
    __tablename__ = "login_attempt"
    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, index=True)
    ip = Column(String(64), nullable=False, index=True)
    at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    ok = Column(Boolean, nullable=False)


class StaffAudit(Base):
    """What a staff member did: viewed a transcript, replied, changed a booking, exported…
    Append-only: the migration installs triggers that refuse UPDATE and DELETE."""

    __tablename__ = "staff_audit"
    id = Column(Integer, primary_key=True)
    at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    username = Column(String(64), nullable=False, index=True)  # "-" for an anonymous attempt
    action = Column(String(32), nullable=False)  # login / view_transcript / reply / takeover / export …
    target_type = Column(String(32))  # conversation / booking / appeal / user / document
    target_id = Column(String(128))
    detail = Column(JSON)  # no personal data in clear


class Conversation(Base):
    """One conversation as the console lists it, kept up to date from Rasa's event broker."""

    __tablename__ = "conversation"
    sender_id = Column(String(255), primary_key=True)
    channel = Column(String(32), index=True)
    identity_masked = Column(String(64))  # 138****5678 / 3304**********1234, once the veteran gave one
    last_message = Column(Text)  # masked
    last_at = Column(UTCDateTime, index=True)
    last_user_at = Column(UTCDateTime)  # WeChat lets staff reply only within 48 h of this
    state = Column(String(16), nullable=False, default=BOT, index=True)
    holder = Column(String(64))  # the staff username holding it (state == staff)
    waiting_since = Column(UTCDateTime)
    misses = Column(Integer, nullable=False, default=0)  # fallbacks in a row


class ConversationMessage(Base):
    """One line of a transcript (masked), with what the bot understood and which sources it cited."""

    __tablename__ = "conversation_message"
    id = Column(Integer, primary_key=True)
    sender_id = Column(String(255), ForeignKey("conversation.sender_id"), nullable=False, index=True)
    broker_event_id = Column(Integer, unique=True)  # None for lines the console wrote itself
    at = Column(UTCDateTime, nullable=False)
    kind = Column(String(8), nullable=False)  # user / bot / staff / note
    text = Column(Text, nullable=False)
    intent = Column(String(64))
    confidence = Column(Float)
    sources = Column(JSON)  # citations of a policy answer
    staff_name = Column(String(64))


class ConversationKey(Base):
    """A keyed hash of a phone or ID number said in a conversation, so staff can find it by the
    number without the number being stored (booking/pii.py hashes)."""

    __tablename__ = "conversation_key"
    id = Column(Integer, primary_key=True)
    sender_id = Column(String(255), ForeignKey("conversation.sender_id"), nullable=False, index=True)
    key_hash = Column(String(64), nullable=False, index=True)


class FeedCursor(Base):
    """How far the console has read each event source (the SQL event broker's `events` table)."""

    __tablename__ = "feed_cursor"
    name = Column(String(64), primary_key=True)
    last_id = Column(Integer, nullable=False, default=0)


class CannedReply(Base):
    """常用语: a reply staff insert with one click; admins edit the list."""

    __tablename__ = "canned_reply"
    id = Column(Integer, primary_key=True)
    title = Column(String(64), nullable=False)
    text = Column(Text, nullable=False)
    position = Column(Integer, nullable=False, default=0)


class Veteran(Base):
    """一人一档: one person, however many phones and WeChat accounts they reached us from."""

    __tablename__ = "veteran"
    id = Column(Integer, primary_key=True)
    name = Column(String(64))
    notes = Column(Text)  # staff notes, masked
    merged_into = Column(Integer, ForeignKey("veteran.id"))  # set when merged into another record
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class VeteranIdentity(Base):
    """A way to recognise a veteran: a phone (keyed hash, as ConversationKey, plus its mask) or a
    channel sender id (a WeChat openid, a web-chat session)."""

    __tablename__ = "veteran_identity"
    id = Column(Integer, primary_key=True)
    veteran_id = Column(Integer, ForeignKey("veteran.id"), nullable=False, index=True)
    kind = Column(String(16), nullable=False)  # phone / sender
    value = Column(String(255), nullable=False)  # phone: keyed hash; sender: the sender id
    shown = Column(String(64))  # what staff see: 138****5678, 微信 o6_b…
    __table_args__ = (UniqueConstraint("kind", "value"),)


class StaffVisit(Base):
    """走访 / 电话回访 of a veteran by staff, with notes."""

    __tablename__ = "staff_visit"
    id = Column(Integer, primary_key=True)
    veteran_id = Column(Integer, ForeignKey("veteran.id"), nullable=False, index=True)
    day = Column(Date, nullable=False)
    kind = Column(String(16), nullable=False)  # visit / call
    staff = Column(String(64), nullable=False)
    note = Column(Text, nullable=False)  # masked
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
