"""Appeal tables: the appeal (诉求) and its append-only event trail (every step, note, addition
and extension, with who and when)."""
from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import relationship

from booking.pii import mask_phone
from vetbot.storage.base import Base, UTCDateTime, utcnow

# AppealEvent.action
FILED, MOVED, ADDED, NOTED, EXTENDED = "filed", "moved", "added", "noted", "extended"


class Appeal(Base):
    __tablename__ = "appeal"
    id = Column(Integer, primary_key=True)
    reference = Column(String(16), nullable=False, unique=True)
    description = Column(Text, nullable=False)  # the veteran's words, ID numbers and phones masked
    category = Column(String(32), nullable=False, index=True)  # workflow.yml category id
    urgent = Column(Boolean, nullable=False, default=False)
    urgent_signals = Column(JSON, nullable=False, default=list)  # what made it urgent
    name = Column(String(64), nullable=False)
    phone = Column(String(16), nullable=False, index=True)  # clear, as bookings: see booking/pii.py
    town = Column(String(64), nullable=False)  # as the veteran said it (镇 / 村)
    station_code = Column(String(32))  # the station of that town (booking/locations.yml), if known
    visit_wanted = Column(Boolean, nullable=False, default=False)
    status = Column(String(16), nullable=False, index=True)  # workflow.yml state id
    assignee = Column(String(64))  # station id, department or staff member
    deadline = Column(Date)  # leave the status by this day; None: no deadline, or calendar unknown
    late = Column(Boolean, nullable=False, default=False)  # a step was taken after its deadline
    # Where notices go: the channel the veteran came on and their id there.
    channel = Column(String(32))
    sender_id = Column(String(128))
    dedupe_key = Column(String(128), nullable=False, unique=True)  # one appeal per message
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)

    events = relationship("AppealEvent", order_by="AppealEvent.id", back_populates="appeal",
                          lazy="selectin")  # read with the appeal: status_text, show, stats

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone)

    @property
    def closed(self) -> bool:
        """In a final state of the workflow (已办结): nothing more can be added."""
        from appeals.workflow import load_workflow

        return load_workflow().final(self.status)

    def __repr__(self) -> str:
        return f"Appeal({self.reference} {self.status} {self.category} phone={self.phone_masked})"


class AppealEvent(Base):
    """One thing that happened to an appeal. Append-only: the migration installs triggers that
    refuse UPDATE and DELETE on this table."""

    __tablename__ = "appeal_event"
    id = Column(Integer, primary_key=True)
    appeal_id = Column(Integer, ForeignKey("appeal.id"), nullable=False, index=True)
    at = Column(UTCDateTime, nullable=False, default=utcnow)
    actor = Column(String(128), nullable=False)  # "veteran:wechat:<openid>", "staff:王五"
    role = Column(String(16), nullable=False)  # workflow.yml role
    action = Column(String(16), nullable=False)  # filed / moved / added (the veteran) / noted (staff) / extended
    from_state = Column(String(16))
    to_state = Column(String(16))
    note = Column(Text)  # reason, answer, the veteran's addition (masked)
    deadline = Column(Date)  # the deadline after this event
    dedupe_key = Column(String(128), unique=True)  # an addition sent twice is kept once

    appeal = relationship(Appeal, back_populates="events")

    def __repr__(self) -> str:
        return f"AppealEvent({self.action} {self.from_state}→{self.to_state} by {self.actor})"
