"""Booking tables: slots with their capacity, bookings, and the append-only audit trail."""
from __future__ import annotations

from sqlalchemy import (
    JSON, CheckConstraint, Column, Date, ForeignKey, Integer, String, Time, UniqueConstraint,
)
from sqlalchemy.orm import relationship

from booking.pii import mask_phone
from vetbot.storage.base import Base, UTCDateTime, utcnow

BOOKED, ARRIVED, DONE, NO_SHOW, CANCELLED = "booked", "arrived", "done", "no_show", "cancelled"
STATUSES = (BOOKED, ARRIVED, DONE, NO_SHOW, CANCELLED)


class Slot(Base):
    """One half-hour at one location: `booked` seats out of `capacity` (see service._take_seat)."""

    __tablename__ = "slot"
    id = Column(Integer, primary_key=True)
    location_code = Column(String(32), nullable=False)
    date = Column(Date, nullable=False)  # Asia/Shanghai local date
    start_time = Column(Time, nullable=False)  # Asia/Shanghai local time
    capacity = Column(Integer, nullable=False)
    booked = Column(Integer, nullable=False, default=0)
    __table_args__ = (
        UniqueConstraint("location_code", "date", "start_time"),
        CheckConstraint("booked >= 0", name="booked_not_negative"),
    )

    def __repr__(self) -> str:
        return f"Slot({self.location_code} {self.date} {self.start_time} {self.booked}/{self.capacity})"


class Booking(Base):
    __tablename__ = "booking"
    id = Column(Integer, primary_key=True)
    reference = Column(String(16), nullable=False, unique=True)
    service_code = Column(String(64), nullable=False, index=True)
    slot_id = Column(Integer, ForeignKey("slot.id"), nullable=False, index=True)
    name = Column(String(64), nullable=False)
    phone = Column(String(16), nullable=False, index=True)  # clear: see booking/pii.py
    id_hash = Column(String(64), nullable=False, index=True)  # HMAC-SHA256, never the clear ID
    id_masked = Column(String(18), nullable=False)
    status = Column(String(16), nullable=False, index=True, default=BOOKED)
    # Where reminders and notices go: the channel the veteran booked through and their id on it.
    channel = Column(String(32))
    sender_id = Column(String(128))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)

    slot = relationship(Slot, lazy="joined", innerjoin=True)
    events = relationship("BookingEvent", order_by="BookingEvent.id", back_populates="booking")

    @property
    def location_code(self) -> str:
        return self.slot.location_code

    @property
    def date(self):
        return self.slot.date

    @property
    def start_time(self):
        return self.slot.start_time

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone)

    def snapshot(self) -> dict:
        """What an audit event records as before/after: no personal data."""
        return {
            "status": self.status, "service_code": self.service_code,
            "location_code": self.location_code, "date": self.date.isoformat(),
            "start_time": self.start_time.strftime("%H:%M"),
        }

    def __repr__(self) -> str:
        return (f"Booking({self.reference} {self.status} {self.service_code} "
                f"phone={self.phone_masked} id={self.id_masked})")


class BookingEvent(Base):
    """One change of a booking: who, when, what, the state before and after. Append-only: the
    migration installs triggers that refuse UPDATE and DELETE on this table."""

    __tablename__ = "booking_event"
    id = Column(Integer, primary_key=True)
    booking_id = Column(Integer, ForeignKey("booking.id"), nullable=False, index=True)
    at = Column(UTCDateTime, nullable=False, default=utcnow)
    actor = Column(String(128), nullable=False)  # e.g. "veteran:wechat:<openid>", "staff:zhang"
    action = Column(String(32), nullable=False)  # created / rescheduled / status
    before = Column(JSON)
    after = Column(JSON)

    booking = relationship(Booking, back_populates="events")

    def __repr__(self) -> str:
        return f"BookingEvent({self.action} by {self.actor} at {self.at:%Y-%m-%d %H:%M:%S})"
