"""Knowledge management for admins: upload a document (type and size checked, Chinese errors), list,
remove — each rebuilding the index as `vetbot kb import/remove` do, in the background — the gap list,
and the retrieval evaluation; operators are refused. The real embedder; the project corpus is
mirrored as the CLI does, with the site's vector cache copied in so only new text is encoded."""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import select

import knowledge.service
from console import routes_knowledge
from console.models import StaffAudit
from knowledge import gaps
from knowledge.search import KnowledgeBase
from tests.support.laws import GLORY, write_law
from vetbot.config import PROJECT_ROOT
from vetbot.storage import session_scope

SITE_CACHE = PROJECT_ROOT / "var" / "kb" / "embeddings.sqlite3"
GLORY_FIRST = f"{GLORY.doc_id}#第一条"


@pytest.fixture
def admin_kb(console_db, embedder, tmp_path, monkeypatch):
    """The console's knowledge base in the test's data directory, with no index yet."""
    if SITE_CACHE.exists():  # read only: sqlite's backup copies a consistent state
        (tmp_path / "kb").mkdir(exist_ok=True)
        with sqlite3.connect(SITE_CACHE) as source, sqlite3.connect(tmp_path / "kb" / "embeddings.sqlite3") as copy:
            source.backup(copy)
    monkeypatch.setattr(knowledge.service, "_instance", KnowledgeBase(embedder))
    monkeypatch.setattr(routes_knowledge, "_loading", None)
    monkeypatch.setattr(routes_knowledge, "_job", None)
    yield
    wait_for_job(None)  # no thread left writing into a removed directory


def wait_for_job(client, seconds: float = 300.0) -> dict | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = client.get("/api/knowledge/job").json() if client else (
            routes_knowledge.current_job() and routes_knowledge.current_job().out().dict())
        if job is None or job["state"] != "running":
            return job
        time.sleep(0.5)
    raise AssertionError("the background job did not finish")


def upload(client, path: Path, name: str | None = None, content_type: str = "text/markdown"):
    return client.post("/api/knowledge/documents",
                       files={"file": (name or path.name, path.read_bytes(), content_type)})


def test_upload_list_search_and_remove(admin_kb, staff_client, tmp_path):
    admin = staff_client("admin")
    answer = upload(admin, write_law(tmp_path, GLORY))
    assert answer.status_code == 200, answer.text
    imported = answer.json()
    assert (imported["doc_id"], imported["passages"], imported["changed"]) == (GLORY.doc_id, 2, True)
    job = wait_for_job(admin)
    assert job["kind"] == "rebuild" and job["state"] == "done", job

    [listed] = admin.get("/api/knowledge/documents").json()
    assert (listed["doc_id"], listed["passages"], listed["in_force"]) == (GLORY.doc_id, 2, True)
    assert len(admin.get("/api/knowledge/documents", params={"all": True}).json()) > 100  # the corpus, mirrored
    found = {p["id"]: p for p in admin.get("/api/knowledge/search", params={"q": "光荣牌谁来上门挂"}).json()}
    assert found[GLORY_FIRST]["citation"] == f"依据：《{GLORY.title}》第一条（{GLORY.date}）"

    again = upload(admin, write_law(tmp_path, GLORY)).json()  # the same file: nothing to rebuild
    assert again["changed"] is False and again["job"] is None

    removed = admin.delete(f"/api/knowledge/documents/{GLORY.doc_id}")
    assert removed.status_code == 200 and removed.json()["kind"] == "rebuild"
    assert wait_for_job(admin)["state"] == "done"
    assert admin.get("/api/knowledge/documents").json() == []
    assert GLORY_FIRST not in [p["id"] for p in admin.get("/api/knowledge/search", params={"q": "光荣牌谁来上门挂"}).json()]
    assert admin.delete(f"/api/knowledge/documents/{GLORY.doc_id}").status_code == 404
    assert admin.delete("/api/knowledge/documents/youdaizheng-shenling").status_code == 404  # corpus stays

    with session_scope() as session:
        actions = [r.action for r in session.execute(select(StaffAudit)).scalars()]
    assert actions.count("kb_import") == 2 and actions.count("kb_remove") == 1


def test_uploads_are_checked(admin_kb, staff_client, tmp_path, monkeypatch):
    admin = staff_client("admin")
    law = write_law(tmp_path, GLORY)

    def refused(response, status: int, words: str) -> None:
        assert response.status_code == status, response.text
        assert words in response.json()["detail"]

    refused(upload(admin, law, "光荣牌.exe"), 415, "只能导入")
    refused(upload(admin, law, "光荣牌办法.pdf", "application/pdf"), 415, "不是真正的 .pdf")
    refused(upload(admin, law, "光荣牌办法.docx"), 415, "不是真正的 .docx")
    empty = tmp_path / "空.md"
    empty.write_text("  \n", encoding="utf-8")
    refused(upload(admin, empty, "空文件.md"), 422, "空的")
    heading_only = tmp_path / "只有标题.md"
    heading_only.write_text("# 只有标题的文件\n", encoding="utf-8")
    refused(upload(admin, heading_only), 422, "导入失败")
    monkeypatch.setattr(routes_knowledge, "MAX_UPLOAD_BYTES", 100)
    refused(upload(admin, law), 413, "太大")
    assert admin.get("/api/knowledge/documents").json() == []
    assert not list((tmp_path / "kb" / "uploads").glob("*只有标题*"))  # a refused file is not kept
    assert routes_knowledge.current_job() is None


def test_upload_name_keeps_the_title_and_drops_any_path():
    assert routes_knowledge.upload_name("..\\..\\退役军人保障法(2020-11-11).md") == "退役军人保障法(2020-11-11).md"
    assert routes_knowledge.upload_name("/etc/../a<b>:c.txt") == "abc.txt"


def test_gaps_are_listed_as_the_cli_lists_them(admin_kb, staff_client):
    for _ in range(2):
        gaps.record("优待金发了没，我电话13857301234", gaps.REFUSED)
    gaps.record("评残要多久", gaps.DID_YOU_MEAN, "pingcan")
    listed = staff_client("admin").get("/api/knowledge/gaps").json()
    assert [(g["count"], g["kind_label"]) for g in listed] == [(2, "没找到"), (1, "您是想问")]
    assert "13857301234" not in listed[0]["question"] and "138****1234" in listed[0]["question"]
    assert staff_client("admin").get("/api/knowledge/gaps", params={"since": "12月1日"}).status_code == 422


def test_operators_are_refused_the_admin_part(admin_kb, staff_client, tmp_path):
    operator = staff_client()
    assert operator.get("/api/knowledge/documents").status_code == 403
    assert upload(operator, write_law(tmp_path, GLORY)).status_code == 403
    assert operator.delete(f"/api/knowledge/documents/{GLORY.doc_id}").status_code == 403
    assert operator.post("/api/knowledge/eval").status_code == 403
    assert operator.get("/api/knowledge/job").status_code == 403
    assert operator.get("/api/knowledge/gaps").status_code == 403
    assert operator.get("/knowledge").status_code == 403
    page = staff_client("admin").get("/knowledge")
    assert page.status_code == 200 and "知识库" in page.text


def test_one_job_at_a_time(admin_kb, staff_client, monkeypatch, tmp_path):
    import threading

    release = threading.Event()
    monkeypatch.setattr(routes_knowledge, "_evaluate", lambda: release.wait(30) and {"modes": []})
    admin = staff_client("admin")
    assert admin.post("/api/knowledge/eval").json()["state"] == "running"
    busy = admin.post("/api/knowledge/eval")
    assert busy.status_code == 409 and "正在评测" in busy.json()["detail"]
    law = write_law(tmp_path, GLORY)
    assert upload(admin, law).status_code == 409  # refused before anything is stored
    assert admin.delete(f"/api/knowledge/documents/{GLORY.doc_id}").status_code == 409
    release.set()
    assert wait_for_job(admin)["state"] == "done"
    assert admin.get("/api/knowledge/documents").json() == []


@pytest.mark.slow
def test_evaluation_runs_in_the_background_and_gives_the_table(admin_kb, staff_client):
    admin = staff_client("admin")
    started = admin.post("/api/knowledge/eval")
    assert started.status_code == 200 and started.json()["state"] == "running"
    job = wait_for_job(admin, seconds=900)
    assert job["state"] == "done", job
    table = job["result"]
    assert [row["mode"] for row in table["modes"]] == ["bm25", "dense", "hybrid"]
    hybrid = table["modes"][2]
    assert table["questions"] > 100 and 0.5 < hybrid["hit3"] <= 1.0
    assert "judge" in table and table["judge"]["questions"] > 0
