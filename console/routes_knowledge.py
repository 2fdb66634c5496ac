"""The knowledge base in the console: passage search for every staff member (citations to insert in
a reply), and for admins the documents (upload to import, list, remove), the retrieval evaluation
and the gap list — the same code as `vetbot kb import|list|remove|eval|gaps` (knowledge/cli.py).

Loading the embedding model and index takes seconds, so it happens once per process, in a thread,
on the first request that needs it (`ready_knowledge_base`). Rebuilding the index and the
evaluation take longer still: they run as one background job at a time, which the page polls."""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from fastapi import APIRouter, Depends, File, HTTPException, Query, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel

from booking.pii import redact
from console import audit
from console.auth import StaffPrincipal, current_staff, require_admin
from knowledge.answer import citation, short_rule
from knowledge.context import without_personal_numbers
from knowledge.search import KnowledgeBase
from vetbot.storage.engine import session_scope

log = logging.getLogger(__name__)
router = APIRouter(tags=["knowledge"])
STATIC = Path(__file__).resolve().parent / "static"
SUPPORTED = (".md", ".txt", ".docx", ".pdf")  # what knowledge/importer.py reads
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
LOAD_WAIT_SECONDS = 25.0
LOADING = "政策库正在加载，请过半分钟再试。"
KB_DOWN = "政策库暂时用不了，请稍后再试；要是一直这样，请告诉管理员。"
# What a real file of each kind starts with (a renamed .exe is refused before the importer sees it).
MAGIC = {".pdf": b"%PDF", ".docx": b"PK\x03\x04"}

# ---- the knowledge base, loaded once ---------------------------------------------------------

_load_lock = threading.Lock()
_loading: Optional[concurrent.futures.Future] = None


def _load() -> KnowledgeBase:
    from knowledge.service import get_knowledge_base

    kb = get_knowledge_base()
    kb.search("优待证", top_k=1)  # loads the model and the index now, not on a caller's question
    return kb


def start_loading() -> concurrent.futures.Future:
    """The load, started in a thread on the first call; a failed load is tried again next time."""
    global _loading
    with _load_lock:
        if _loading is None or (_loading.done() and _loading.exception() is not None):
            _loading = concurrent.futures.Future()
            future = _loading

            def run() -> None:
                try:
                    future.set_result(_load())
                except Exception as error:  # noqa: BLE001 - handed to whoever waits
                    future.set_exception(error)

            threading.Thread(target=run, name="console-kb-load", daemon=True).start()
        return _loading


async def ready_knowledge_base() -> KnowledgeBase:
    """The loaded knowledge base; 503 in Chinese while it is still loading or when it cannot be."""
    future = start_loading()
    try:
        return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), LOAD_WAIT_SECONDS)
    except asyncio.TimeoutError:
        raise HTTPException(503, LOADING) from None
    except Exception:
        log.exception("knowledge base could not be loaded")
        raise HTTPException(503, KB_DOWN) from None


# ---- search ------------------------------------------------------------------------------------

class PassageOut(BaseModel):
    id: str
    title: str
    citation: str
    excerpt: str
    text: str
    score: float
    relevance: float
    in_force: bool


def passage_out(hit) -> PassageOut:
    p = hit.passage
    return PassageOut(id=p.id, title=p.title, citation=citation(p), excerpt=short_rule(p.text), text=p.text,
                      score=round(float(hit.score), 4), relevance=round(float(hit.relevance), 4),
                      in_force=p.in_force)


@router.get("/api/knowledge/search", response_model=list[PassageOut],
            summary="检索政策条文（带出处，供回复时引用）")
async def search(q: str = Query(..., min_length=1, max_length=500), limit: int = Query(5, ge=1, le=20),
                 staff: StaffPrincipal = Depends(current_staff)) -> list[PassageOut]:
    kb = await ready_knowledge_base()
    question = without_personal_numbers(q)  # a number said by the caller is nothing to search for
    if not question.strip():
        return []
    hits = await asyncio.get_running_loop().run_in_executor(
        None, lambda: kb.search(question, top_k=limit, strict=False))
    return [passage_out(hit) for hit in hits]


# ---- admin: documents ------------------------------------------------------------------------

class DocumentOut(BaseModel):
    doc_id: str
    title: str
    date: str
    in_force: bool
    passages: int
    kind: str
    updated_at: str


class JobOut(BaseModel):
    id: int
    kind: str
    state: str  # running / done / failed
    started_at: float
    finished_at: Optional[float]
    message: str
    result: Optional[dict]


class ImportOut(BaseModel):
    doc_id: str
    title: str
    date: str
    in_force: bool
    passages: int
    changed: bool
    job: Optional[JobOut]


class GapOut(BaseModel):
    question: str
    kind: str
    kind_label: str
    passage_id: Optional[str]
    count: int
    first_seen: str
    last_seen: str


@dataclass
class Job:
    id: int
    kind: str  # rebuild / eval
    state: str = "running"
    started_at: float = field(default_factory=time.time)
    finished_at: Optional[float] = None
    message: str = ""
    result: Optional[dict] = None

    def out(self) -> JobOut:
        return JobOut(**self.__dict__)


_jobs_lock = threading.Lock()
_job: Optional[Job] = None
JOB_NAMES = {"rebuild": "重建索引", "eval": "评测"}


def current_job() -> Optional[Job]:
    return _job


def refuse_while_busy() -> None:
    """Before changing the store: a change made while another job runs would not be rebuilt."""
    job = current_job()
    if job is not None and job.state == "running":
        raise HTTPException(409, f"正在{JOB_NAMES[job.kind]}，请等它做完再试。")


def start_job(kind: str, work: Callable[[], Any], done_message: str) -> Job:
    """Run `work` in a thread as the one background job; 409 while another one runs."""
    global _job
    with _jobs_lock:
        if _job is not None and _job.state == "running":
            raise HTTPException(409, f"正在{JOB_NAMES[_job.kind]}，请等它做完再试。")
        job = _job = Job(id=(_job.id + 1 if _job else 1), kind=kind, message=f"正在{JOB_NAMES[kind]}……")

    def run() -> None:
        try:
            result = work()
            job.result, job.message, job.state = result, done_message, "done"
        except Exception:  # noqa: BLE001 - the page shows a plain message; the log has the details
            log.exception("knowledge job %s failed", kind)
            job.message, job.state = f"{JOB_NAMES[kind]}没有成功，请看服务器日志或稍后再试。", "failed"
        finally:
            job.finished_at = time.time()

    threading.Thread(target=run, name=f"console-kb-{kind}", daemon=True).start()
    return job


def _embedder():
    """The model the searches use (loaded once per process); an index need not exist yet."""
    from knowledge.service import get_knowledge_base

    return get_knowledge_base().embedder


def _store():
    from knowledge.index import open_store

    return open_store()


def _rebuild_index() -> dict:
    """As `vetbot kb import/remove` do after a change: the index rebuilt from the store."""
    from knowledge.index import build_index

    store = _store()
    try:
        report = build_index(store, _embedder())
    finally:
        store.close()
    return {"passages": report.passages, "seconds": round(report.total_seconds, 1)}


def _document_out(record) -> DocumentOut:
    return DocumentOut(doc_id=record.doc_id, title=record.title, date=record.date, in_force=record.in_force,
                       passages=record.passage_count, kind=record.kind, updated_at=record.updated_at)


@router.get("/knowledge", include_in_schema=False)
def knowledge_page(staff: StaffPrincipal = Depends(require_admin)) -> FileResponse:
    return FileResponse(STATIC / "knowledge.html", media_type="text/html; charset=utf-8")


@router.get("/api/knowledge/documents", response_model=list[DocumentOut], tags=["admin"],
            summary="知识库里的文件（all=true 时也列项目自带语料）")
def documents(all: bool = False, staff: StaffPrincipal = Depends(require_admin)) -> list[DocumentOut]:
    store = _store()
    try:
        return [_document_out(r) for r in store.documents(None if all else "import")]
    finally:
        store.close()


def upload_name(filename: str) -> str:
    """The file's own name (the importer takes the title and date from it), without any path or
    character a file name should not have."""
    name = unicodedata.normalize("NFC", Path(filename.replace("\\", "/")).name)
    name = re.sub(r"[\x00-\x1f/:*?\"<>|]", "", name).strip(" .")
    return name[:120]


def _upload_dir() -> Path:
    from knowledge.index import kb_dir

    directory = kb_dir() / "uploads"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@router.post("/api/knowledge/documents", response_model=ImportOut, tags=["admin"],
             summary="上传文件导入知识库（.md .txt .docx .pdf，10MB 以内），然后重建索引")
async def upload(file: UploadFile = File(...), staff: StaffPrincipal = Depends(require_admin)) -> ImportOut:
    name = upload_name(file.filename or "")
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED:
        raise HTTPException(415, "只能导入 .md、.txt、.docx、.pdf 文件。")
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise HTTPException(413, f"文件太大了，最大 {MAX_UPLOAD_BYTES // (1024 * 1024)}MB。")
    if not data.strip():
        raise HTTPException(422, "文件是空的。")
    if suffix in MAGIC and not data.startswith(MAGIC[suffix]):
        raise HTTPException(415, f"这个文件不是真正的 {suffix} 文件，请检查后再上传。")
    if suffix in (".md", ".txt") and b"\x00" in data:
        raise HTTPException(415, "这个文件不是文本文件，请检查后再上传。")
    if len(Path(name).stem) < 2:
        raise HTTPException(422, "文件名要写法规或文件的名称，比如“退役军人保障法(2020-11-11).md”。")
    refuse_while_busy()
    return await asyncio.get_running_loop().run_in_executor(None, _import, name, data, staff)


def _import(name: str, data: bytes, staff: StaffPrincipal) -> ImportOut:
    from knowledge.importer import ImportErrorWithReason
    from knowledge.index import import_document, sync_corpus

    path = _upload_dir() / name
    previous = path.read_bytes() if path.exists() else None
    path.write_bytes(data)
    store = _store()
    try:
        sync_corpus(store)
        doc, changed = import_document(store, path)
    except (ImportErrorWithReason, OSError, ValueError) as error:
        _restore(path, previous)
        raise HTTPException(422, f"导入失败：{redact(str(error))}") from None
    except Exception:
        _restore(path, previous)
        log.exception("import of an uploaded document failed")
        raise HTTPException(422, "导入失败：读不出这个文件的内容，请换一个格式（比如 .docx 或 .txt）再试。") from None
    finally:
        store.close()
    job = start_job("rebuild", _rebuild_index, "索引已更新。") if changed else None
    with session_scope() as session:
        audit.record(session, staff, "kb_import", "document", doc.doc_id,
                     {"file": name, "passages": len(doc.passages), "changed": changed})
    return ImportOut(doc_id=doc.doc_id, title=doc.title, date=doc.date, in_force=doc.in_force,
                     passages=len(doc.passages), changed=changed, job=job.out() if job else None)


def _restore(path: Path, previous: bytes | None) -> None:
    if previous is None:
        path.unlink(missing_ok=True)
    else:
        path.write_bytes(previous)


@router.delete("/api/knowledge/documents/{doc_id}", response_model=JobOut, tags=["admin"],
               summary="删除一个导入的文件，然后重建索引")
def remove(doc_id: str, staff: StaffPrincipal = Depends(require_admin)) -> JobOut:
    refuse_while_busy()
    store = _store()
    try:
        record = store.document(doc_id)
        if record is None or record.kind != "import":
            raise HTTPException(404, "没有找到这个导入的文件（项目自带的语料不能在这里删）。")
        store.remove_document(doc_id)
    finally:
        store.close()
    job = start_job("rebuild", _rebuild_index, "已删除，索引已更新。")
    with session_scope() as session:
        audit.record(session, staff, "kb_remove", "document", doc_id, {"title": record.title})
    return job.out()


# ---- admin: evaluation and gaps ------------------------------------------------------------

def _evaluate() -> dict:
    """`vetbot kb eval` (retrieval only): the figures per mode, and the judge's on held-out questions."""
    from knowledge.evaluate import evaluate, threshold_for
    from knowledge.judge import collect, figures, judge_figures

    kb, questions, results = evaluate(_embedder())
    rows = []
    for mode, res in results.items():
        t = threshold_for(kb, mode)
        rows.append({"mode": mode, "hit1": res.hit(1), "hit3": res.hit(3), "mrr": res.mrr(),
                     "refusal": res.refused(t), "answered": res.answered(t), "threshold": t})
    answerable = sum(1 for q in questions if q.answers)
    table = {"questions": len(questions), "answerable": answerable, "passages": kb.size, "modes": rows}
    if kb.judge is not None:
        held = collect(kb, [q for q in questions if q.split == "heldout"])
        gate = figures([r.old for r in held], [bool(r.question.answers) for r in held])
        table["judge"] = {"questions": len(held), "cosine": gate, "judge": judge_figures(kb.judge, held)}
    return table


@router.post("/api/knowledge/eval", response_model=JobOut, tags=["admin"], summary="开始评测（后台运行，页面轮询结果）")
def start_eval(staff: StaffPrincipal = Depends(require_admin)) -> JobOut:
    job = start_job("eval", _evaluate, "评测完成。")
    with session_scope() as session:
        audit.record(session, staff, "kb_eval", "knowledge", None)
    return job.out()


@router.get("/api/knowledge/job", response_model=Optional[JobOut], tags=["admin"],
            summary="后台任务（重建索引或评测）的进度和结果")
def job_status(staff: StaffPrincipal = Depends(require_admin)) -> Optional[JobOut]:
    job = current_job()
    return job.out() if job else None


@router.get("/api/knowledge/gaps", response_model=list[GapOut], tags=["admin"],
            summary="答不上、只能猜的问题（同 vetbot kb gaps）")
def gaps(since: Optional[str] = None, limit: int = Query(50, ge=1, le=500),
         staff: StaffPrincipal = Depends(require_admin)) -> list[GapOut]:
    from datetime import date

    from knowledge.cli import GAP_KINDS
    from knowledge.gaps import listing

    try:
        day = date.fromisoformat(since) if since else None
    except ValueError:
        raise HTTPException(422, "日期要写成 2026-12-01 这样。") from None
    return [GapOut(kind_label=GAP_KINDS.get(g.kind, g.kind), **g.to_dict()) for g in listing(day, limit)]
