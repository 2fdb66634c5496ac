"""Chinese tokens for BM25: jieba search-mode words (with the project dictionary) plus
character bigrams, so a typo or an unseen compound still shares tokens with the text."""
from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path

import jieba
import yaml

from vetbot.config import PROJECT_ROOT

USER_DICT = PROJECT_ROOT / "bot" / "dictionary" / "userdict.txt"
COLLOQUIAL = Path(__file__).with_name("colloquial.yml")

# Function words and question words that carry no topic.
STOPWORDS = set(
    "的 了 吗 呢 吧 啊 呀 么 嘛 哦 是 在 我 我们 你 你们 他 她 它 这 那 有 和 与 及 或 也 都 就 还 要 "
    "会 能 可以 怎么 怎样 怎么样 什么 哪 哪里 哪儿 多少 几 请问 请 一下 一个 如何 是否 为什么 "
    "啥 咋 咋办 想 问 问问 知道 这个 那个 给 把 被 对 从 到 由 按 按照 应当 或者 以及 等 之 其 "
    "所 为 于 以 中 上 下 后 前 时 可 不 没 没有 个 条 本 该".split()
)
_KEEP = re.compile(r"[\u4e00-\u9fff]|[a-z0-9]+")
_HAN = re.compile(r"[\u4e00-\u9fff]+")


@lru_cache(maxsize=1)
def _jieba() -> jieba.Tokenizer:
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    if USER_DICT.exists():
        tokenizer.load_userdict(str(USER_DICT))
    tokenizer.initialize()
    return tokenizer


def words(text: str) -> list[str]:
    """jieba words in search mode, without stopwords and punctuation."""
    out = []
    for word in _jieba().cut_for_search(text.lower()):
        word = word.strip()
        if word and word not in STOPWORDS and _KEEP.match(word):
            out.append(word)
    return out


def char_bigrams(text: str) -> list[str]:
    grams = []
    for run in _HAN.findall(text):
        grams.extend("#" + run[i : i + 2] for i in range(len(run) - 1))
    return grams


@lru_cache(maxsize=1)
def _colloquial() -> dict[str, list[str]]:
    return yaml.safe_load(COLLOQUIAL.read_text(encoding="utf-8")) or {}


def expand_colloquial(text: str) -> str:
    """Append the formal words for the colloquial phrases in a question."""
    extra = [w for phrase, formal in _colloquial().items() if phrase in text for w in formal]
    return text + " " + " ".join(extra) if extra else text


def tokens(text: str) -> list[str]:
    return words(text) + char_bigrams(text)


def query_tokens(question: str) -> list[str]:
    expanded = expand_colloquial(question)
    return words(expanded) + char_bigrams(question)
