"""一人一档: a record found by phone or sender id gathers the person's conversations, bookings, appeals
and visits; two records of one person merge (audited); no phone leaves the API in clear."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from appeals.service import file_appeal
from booking.calendar import TZ
from booking.service import create_booking
from console.models import Conversation, ConversationKey, StaffAudit, Veteran
from booking.pii import phone_key
from vetbot.storage import session_scope

PHONE = "13857301234"
OTHER_PHONE = "13957305678"
OPENID = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"
ID_NUMBER = "330482195001011234"  # check digit valid (booking/identity.py)


def today() -> date:
    return datetime.now(TZ).date()  # Pinghu's day, not the machine's


def audits(action: str) -> list[StaffAudit]:
    with session_scope() as session:
        return list(session.execute(select(StaffAudit).where(StaffAudit.action == action)).scalars())


def booking_for(phone: str, sender_id: str | None = None, channel: str | None = None) -> str:
    with session_scope() as session:
        return create_booking(
            session, service_code="pingcan-xinban", location_code="centre", date=today() + timedelta(days=30),
            start_time=time(9, 0), name="王建国", phone=phone, id_number=ID_NUMBER, capacity=3,
            actor="test", channel=channel, sender_id=sender_id).reference


def appeal_for(phone: str, sender_id: str | None = None) -> str:
    with session_scope() as session:
        return file_appeal(
            session, description=f"优待金一直没有发，电话{phone}", category="daiyu", name="王建国", phone=phone,
            town="乍浦镇", visit_wanted=False, urgent_signals=[], channel="wechat" if sender_id else None,
            sender_id=sender_id, dedupe_key=f"test:{phone}:{sender_id}", actor="veteran:test").reference


def conversation(sender_id: str, said_phone: str | None = None) -> None:
    with session_scope() as session:
        session.add(Conversation(sender_id=sender_id, channel="wechat", last_message="优待金没发",
                                 last_at=datetime.now().astimezone(), state="bot"))
        session.flush()
        if said_phone:
            session.add(ConversationKey(sender_id=sender_id, key_hash=phone_key(said_phone)))


@pytest.fixture
def catalogue_ids():
    """A service and location id that exist in the catalogue (the fixture data above use them)."""
    from booking.catalogue import load_catalogue
    from appeals.workflow import load_workflow

    catalogue = load_catalogue()
    assert catalogue.service("pingcan-xinban") and catalogue.location("centre")
    assert load_workflow().category("daiyu")


def test_lookup_by_phone_gathers_bookings_appeals_and_conversations_masked(staff_client, catalogue_ids):
    client = staff_client()
    mine = booking_for(PHONE)
    theirs = booking_for(OTHER_PHONE)
    filed = appeal_for(PHONE)
    conversation("web-123", said_phone=PHONE)  # said the phone in the web chat
    conversation("web-999", said_phone=OTHER_PHONE)

    answer = client.post("/api/profiles/lookup", json={"phone": "138 5730 1234"})
    assert answer.status_code == 200, answer.text
    record = answer.json()
    assert record["created"] is True
    assert [i["shown"] for i in record["identities"]] == ["138****1234"]
    assert [b["reference"] for b in record["bookings"]] == [mine]
    assert theirs not in answer.text
    assert [a["reference"] for a in record["appeals"]] == [filed]
    assert [c["sender_id"] for c in record["conversations"]] == ["web-123"]
    assert PHONE not in answer.text and ID_NUMBER not in answer.text
    assert record["bookings"][0]["phone"] == "138****1234"

    again = client.post("/api/profiles/lookup", json={"phone": PHONE}).json()
    assert again["id"] == record["id"] and again["created"] is False
    assert [row.target_id for row in audits("view_profile")] == [str(record["id"])] * 2
    with session_scope() as session:  # only the keyed hash and the mask are stored
        stored = session.execute(select(Veteran)).scalars().all()
        assert len(stored) == 1


def test_lookup_by_sender_finds_what_that_conversation_booked(staff_client, catalogue_ids):
    client = staff_client()
    reference = booking_for(PHONE, sender_id=OPENID, channel="wechat")
    conversation(OPENID)
    record = client.post("/api/profiles/lookup", json={"sender_id": OPENID}).json()
    assert [b["reference"] for b in record["bookings"]] == [reference]
    assert [c["sender_id"] for c in record["conversations"]] == [OPENID]
    assert record["identities"][0]["kind"] == "sender"


def test_lookup_refuses_a_bad_phone_and_an_empty_request(staff_client):
    client = staff_client()
    assert client.post("/api/profiles/lookup", json={"phone": "1385730"}).json()["detail"].startswith("手机号")
    assert client.post("/api/profiles/lookup", json={}).status_code == 422


def test_visits_notes_and_identities(staff_client):
    client = staff_client(display_name="李接线")
    record = client.post("/api/profiles/lookup", json={"phone": PHONE, "name": "王建国"}).json()
    assert record["name"] == "王建国"
    url = f"/api/profiles/{record['id']}"

    visit = client.post(f"{url}/visits", json={"day": today().isoformat(), "kind": "call",
                                               "note": f"电话回访，留了新号码{OTHER_PHONE}"})
    assert visit.status_code == 200, visit.text
    [saved] = visit.json()["visits"]
    assert saved["staff"] == "李接线" and saved["kind_label"] == "电话回访"
    assert OTHER_PHONE not in saved["note"] and "139****5678" in saved["note"]
    tomorrow = (today() + timedelta(days=1)).isoformat()
    assert client.post(f"{url}/visits", json={"day": tomorrow, "note": "x"}).status_code == 400
    assert client.post(f"{url}/visits", json={"day": tomorrow, "kind": "letter", "note": "x"}).status_code == 400

    notes = client.patch(url, json={"notes": f"家属电话 {OTHER_PHONE}"}).json()
    assert notes["notes"] == "家属电话 139****5678"

    added = client.post(f"{url}/identities", json={"sender_id": OPENID})
    assert sorted(i["kind"] for i in added.json()["identities"]) == ["phone", "sender"]
    other = client.post("/api/profiles/lookup", json={"phone": OTHER_PHONE}).json()
    clash = client.post(f"/api/profiles/{other['id']}/identities", json={"sender_id": OPENID})
    assert clash.status_code == 409 and "合并" in clash.json()["detail"]
    assert {"add_visit", "edit_profile", "add_identity"} <= {row.action for row in audits_all()}


def audits_all() -> list[StaffAudit]:
    with session_scope() as session:
        return list(session.execute(select(StaffAudit)).scalars())


def test_merge_moves_identities_and_visits_and_is_audited(staff_client, catalogue_ids):
    client = staff_client()
    booked = booking_for(PHONE)
    by_phone = client.post("/api/profiles/lookup", json={"phone": PHONE}).json()
    by_openid = client.post("/api/profiles/lookup", json={"sender_id": OPENID, "name": "王建国"}).json()
    client.post(f"/api/profiles/{by_openid['id']}/visits",
                json={"day": today().isoformat(), "kind": "visit", "note": "上门走访，身体还好"})
    assert by_phone["id"] != by_openid["id"]

    merged = client.post(f"/api/profiles/{by_phone['id']}/merge", json={"other_id": by_openid["id"]})
    assert merged.status_code == 200, merged.text
    record = merged.json()
    assert sorted(i["kind"] for i in record["identities"]) == ["phone", "sender"]
    assert [v["note"] for v in record["visits"]] == ["上门走访，身体还好"]
    assert record["name"] == "王建国"
    assert [b["reference"] for b in record["bookings"]] == [booked]

    # Whoever finds the old one is sent on to the record it went into.
    assert client.post("/api/profiles/lookup", json={"sender_id": OPENID}).json()["id"] == by_phone["id"]
    assert client.get(f"/api/profiles/{by_openid['id']}").json()["id"] == by_phone["id"]
    with session_scope() as session:
        assert session.get(Veteran, by_openid["id"]).merged_into == by_phone["id"]
    [row] = audits("merge_profile")
    assert row.target_id == str(by_phone["id"]) and row.detail["merged"] == by_openid["id"]

    assert client.post(f"/api/profiles/{by_phone['id']}/merge", json={"other_id": by_openid["id"]}).status_code == 400
    assert client.post(f"/api/profiles/{by_phone['id']}/merge", json={"other_id": 999}).status_code == 404


def test_search_by_name_and_unknown_record(staff_client):
    client = staff_client()
    record = client.post("/api/profiles/lookup", json={"phone": PHONE, "name": "王建国"}).json()
    found = client.get("/api/profiles", params={"name": "建国"}).json()
    assert [(r["id"], r["identities"][0]["shown"]) for r in found] == [(record["id"], "138****1234")]
    assert client.get("/api/profiles/12345").status_code == 404
    # Numbers past the database's integer are bad input, not a server error.
    assert client.get(f"/api/profiles/{2**64}").status_code == 422
    assert client.post(f"/api/profiles/{record['id']}/merge", json={"other_id": 2**64}).status_code == 422


def test_anonymous_is_refused_and_the_page_is_served(console_client, staff_client):
    assert console_client.post("/api/profiles/lookup", json={"phone": PHONE}).status_code == 401
    page = staff_client().get("/profile")
    assert page.status_code == 200 and "一人一档" in page.text
