"""代客咨询: the answer the chat's policy action gives, its source and the next passages (a small real
index, the real embedder); a booking and an appeal for a caller with the chat's checks, channel
"phone", linked to the caller's record, audited."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

import knowledge.service
from appeals.models import Appeal, AppealEvent
from booking import dialogue as booking_talk
from booking.models import Booking, BookingEvent
from console import routes_knowledge
from console.models import StaffAudit, VeteranIdentity
from knowledge.answer import compose
from knowledge.index import build_index, open_store, sync_corpus
from knowledge.search import KnowledgeBase
from tests.test_knowledge import write_entry
from booking.pii import phone_key
from vetbot.storage import session_scope

PHONE = "13857301234"
ID_NUMBER = "330482195001011234"
YOUDAI = ("退役军人优待证怎么申领", "退役军人凭身份证到户籍所在地的退役军人服务站申请优待证，不收费。")
PINGCAN = ("评残要带什么材料", "申请评定残疾等级，需要带本人身份证、医疗诊断证明和致残经过的证明材料。")
BUZHU = ("自主就业退役士兵一次性经济补助", "自主就业的退役士兵由安置地人民政府发给一次性经济补助，标准按服役年限计算。")


@pytest.fixture
def kb(console_db, embedder, tmp_path, monkeypatch):
    """Three entries indexed in the test's data directory, as the console process loads them."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_entry(corpus, "youdai", *YOUDAI, category="优待证")
    write_entry(corpus, "pingcan", *PINGCAN, category="评残")
    write_entry(corpus, "buzhu", *BUZHU, category="补助")
    store = open_store()
    sync_corpus(store, corpus)
    build_index(store, embedder)
    store.close()
    monkeypatch.delenv("VETBOT_KB_MIN_DENSE", raising=False)
    base = KnowledgeBase(embedder)
    base.judge = None  # three made-up entries: the cosine gate, not the judge fitted on the real corpus
    monkeypatch.setattr(knowledge.service, "_instance", base)
    monkeypatch.setattr(routes_knowledge, "_loading", None)
    return base


def audit_actions() -> list[tuple[str, str | None, dict | None]]:
    with session_scope() as session:
        return [(r.action, r.target_id, r.detail) for r in session.execute(select(StaffAudit)).scalars()
                if r.action not in ("login",)]


def test_answer_is_the_chats_with_its_source_and_the_next_passages(kb, staff_client):
    client = staff_client()
    answer = client.post("/api/ask", json={"question": "优待证怎么申请？电话13857301234"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["outcome"] == "answered"
    [source] = body["sources"]
    assert source["id"] == "youdai"
    assert source["citation"] == "依据：《退役军人保障法》第一条（2021-01-01）"
    assert body["answer"] == compose(kb.hit_by_id("youdai"), "优待证怎么申请？")  # what the chat says
    assert {p["id"] for p in body["passages"]} == {"pingcan", "buzhu"}  # the others, best first
    assert body["passages"][0]["score"] >= body["passages"][1]["score"]
    assert PHONE not in body["query"]
    [(action, target, detail)] = [a for a in audit_actions() if a[0] == "ask_bot"]
    assert target == "youdai" and PHONE not in detail["question"] and detail["outcome"] == "answered"

    # The same through GET, as a link would ask it.
    assert client.get("/api/ask", params={"question": "优待证怎么申请"}).json()["sources"][0]["id"] == "youdai"


def test_follow_up_reads_the_previous_question_and_a_picked_passage_is_answered(kb, staff_client):
    client = staff_client()
    follow = client.post("/api/ask", json={"question": "那要带什么材料", "previous": "评残怎么申请"}).json()
    assert follow["outcome"] == "answered" and follow["sources"][0]["id"] == "pingcan"
    assert "评残" in follow["query"]
    picked = client.post("/api/ask", json={"question": "", "passage_id": "buzhu"}).json()
    assert picked["sources"][0]["id"] == "buzhu" and "一次性经济补助" in picked["answer"]


def test_a_question_the_knowledge_base_cannot_answer_says_so(kb, staff_client):
    client = staff_client()
    body = client.post("/api/ask", json={"question": "今天股市行情怎么样，买哪只股票好"}).json()
    assert body["outcome"] in ("not_found", "suggested")
    assert body["sources"] == []
    if body["outcome"] == "not_found":
        assert "没有找到可靠的答案" in body["answer"]
    assert client.post("/api/ask", json={"question": "  "}).status_code == 422


def test_knowledge_search_gives_passages_with_citations(kb, staff_client):
    client = staff_client()
    found = client.get("/api/knowledge/search", params={"q": "评残带什么", "limit": 2}).json()
    assert [p["id"] for p in found][0] == "pingcan" and len(found) == 2
    assert found[0]["citation"].startswith("依据：《退役军人保障法》")


def test_loading_the_knowledge_base_answers_503_until_ready(console_db, staff_client, monkeypatch):
    import threading

    release = threading.Event()
    monkeypatch.setattr(routes_knowledge, "_loading", None)
    monkeypatch.setattr(routes_knowledge, "_load", lambda: release.wait(10) and None)
    monkeypatch.setattr(routes_knowledge, "LOAD_WAIT_SECONDS", 0.2)
    client = staff_client()
    waiting = client.get("/api/knowledge/search", params={"q": "优待证"})
    assert waiting.status_code == 503 and waiting.json()["detail"] == routes_knowledge.LOADING
    release.set()


def test_anonymous_and_empty_requests_are_refused(console_client):
    assert console_client.post("/api/ask", json={"question": "优待证"}).status_code == 401
    assert console_client.get("/api/knowledge/search", params={"q": "优待证"}).status_code == 401
    assert console_client.post("/api/ask/booking", json={}).status_code == 401


# ---- booking for a caller ----------------------------------------------------------------------

def free_start(location_id: str = "centre", days_ahead: int = 3):
    location = booking_talk.catalogue().location(location_id)
    now = booking_talk.now()
    with session_scope() as session:
        return booking_talk.nearest_free(session, location, now + timedelta(days=days_ahead), now)[0]


def booking_request(**changes) -> dict:
    start = free_start()
    body = {"service": "pingcan-xinban", "location": "centre", "when": f"{start:%Y-%m-%d %H:%M}",
            "name": "王建国", "phone": "138 5730 1234", "id_number": ID_NUMBER}
    return body | changes


def test_booking_for_a_caller_uses_the_service_layer_and_links_the_record(console_db, staff_client):
    client = staff_client(username="lihua")
    made = client.post("/api/ask/booking", json=booking_request())
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["reference"] in body["text"] and "请带好" in body["text"]
    with session_scope() as session:
        booking = session.execute(select(Booking)).scalar_one()
        assert (booking.reference, booking.channel, booking.phone) == (body["reference"], "phone", PHONE)
        assert booking.id_masked == "330482********1234"
        [event] = session.execute(select(BookingEvent)).scalars().all()
        assert event.actor == "staff:lihua"
        identity = session.execute(select(VeteranIdentity)).scalar_one()
        assert (identity.veteran_id, identity.value, identity.shown) == (body["profile_id"], phone_key(PHONE), "138****1234")
    assert ("create_booking", body["reference"]) in [a[:2] for a in audit_actions()]
    profile = client.get(f"/api/profiles/{body['profile_id']}").json()
    assert [b["reference"] for b in profile["bookings"]] == [body["reference"]]


def test_booking_checks_are_the_chats(console_db, staff_client):
    client = staff_client()
    bad_phone = client.post("/api/ask/booking", json=booking_request(phone="12345"))
    assert bad_phone.status_code == 422 and bad_phone.json()["detail"].startswith("手机号不对")
    bad_id = client.post("/api/ask/booking", json=booking_request(id_number="330482195001011235"))
    assert bad_id.status_code == 422 and "校验" in bad_id.json()["detail"]
    no_time = client.post("/api/ask/booking", json=booking_request(when=f"{free_start():%Y-%m-%d}"))
    assert no_time.status_code == 422 and no_time.json()["times"], no_time.text
    unclear = client.post("/api/ask/booking", json=booking_request(when="过阵子吧"))
    assert unclear.status_code == 422 and "日期" in unclear.json()["detail"]
    by_name = client.post("/api/ask/booking", json=booking_request(service="评残"))
    assert by_name.status_code == 422 and "哪一项" in by_name.json()["detail"]
    nowhere = client.post("/api/ask/booking", json=booking_request(location="月球"))
    assert nowhere.status_code == 422
    with session_scope() as session:
        assert session.execute(select(Booking)).first() is None


def test_a_full_slot_is_refused(console_db, staff_client):
    client = staff_client()
    request = booking_request()
    capacity = booking_talk.catalogue().location("centre").capacity_per_slot
    for n in range(capacity):
        assert client.post("/api/ask/booking", json=request | {"phone": f"1385730{n:04d}"}).status_code == 201
    full = client.post("/api/ask/booking", json=request)
    assert full.status_code == 422 and full.json()["times"]  # the chat's "已经约满了" with the nearest free times


# ---- appeal for a caller -------------------------------------------------------------------------

APPEAL = {"description": "我的优待金三个月没有发了，问了村里也没人管", "name": "王建国", "phone": PHONE,
          "town": "乍浦镇", "visit_wanted": True}


def test_appeal_for_a_caller_is_classified_and_filed_as_the_hotlines(console_db, staff_client):
    client = staff_client(username="lihua")
    proposed = client.post("/api/ask/appeal/classify", json={"description": APPEAL["description"]}).json()
    assert proposed["offered"] and proposed["urgent"] == []
    category = proposed["offered"][0]["id"]
    made = client.post("/api/ask/appeal", json=APPEAL | {"category": category})
    assert made.status_code == 201, made.text
    again = client.post("/api/ask/appeal", json=APPEAL | {"category": category})  # a double click
    assert again.json()["reference"] == made.json()["reference"]
    with session_scope() as session:
        appeal = session.execute(select(Appeal)).scalar_one()
        assert (appeal.channel, appeal.phone, appeal.town, appeal.visit_wanted) == ("phone", PHONE, "乍浦镇", True)
        assert appeal.station_code == "zhapu"
        [event] = session.execute(select(AppealEvent)).scalars().all()
        assert (event.actor, event.role) == ("staff:lihua", "hotline")
    assert ("file_appeal", made.json()["reference"]) in [a[:2] for a in audit_actions()]


def test_urgent_words_make_an_urgent_appeal(console_db, staff_client):
    client = staff_client()
    words = "家里已经没饭吃了，我不想活了"
    assert client.post("/api/ask/appeal/classify", json={"description": words}).json()["urgent"]
    made = client.post("/api/ask/appeal", json=APPEAL | {"description": words, "category": "kunnan"}).json()
    assert made["urgent"] is True


def test_appeal_checks(console_db, staff_client):
    client = staff_client()
    assert client.post("/api/ask/appeal", json=APPEAL | {"category": "nosuch"}).status_code == 422
    assert client.post("/api/ask/appeal", json=APPEAL | {"description": "反映"}).status_code == 422
    assert client.post("/api/ask/appeal", json=APPEAL | {"town": "123"}).status_code == 422
    assert client.post("/api/ask/appeal", json=APPEAL | {"phone": "555"}).status_code == 422
    with session_scope() as session:
        assert session.execute(select(Appeal)).first() is None


def test_options_and_page(console_db, staff_client):
    client = staff_client()
    options = client.get("/api/ask/options").json()
    assert {"pingcan-xinban", "youdaizheng-shenling"} <= {s["id"] for s in options["services"]}
    assert "daiyu" in {c["id"] for c in options["categories"]}
    page = client.get("/ask")
    assert page.status_code == 200 and "代客咨询" in page.text
