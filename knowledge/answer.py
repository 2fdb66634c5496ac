"""Turn retrieved passages into a short, sourced reply for an older reader.
Only words from the passage are used: nothing is added that the passage does not say."""
from __future__ import annotations

import re

from knowledge.passage import Passage
from knowledge.search import Hit

MAX_RULE_CHARS = 150
_SENTENCE_END = re.compile(r"(?<=[。！？；])")


def citation(passage: Passage) -> str:
    article = passage.article or ""
    status = "" if passage.in_force else "，已废止"
    return f"依据：《{passage.source}》{article}（{passage.date}{status}）"


def short_rule(text: str, limit: int = MAX_RULE_CHARS) -> str:
    """The first one or two sentences of the passage, cut at a sentence end."""
    text = " ".join(text.split())
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
    rule = ""
    for sentence in sentences[:2]:
        if rule and len(rule) + len(sentence) > limit:
            break
        rule += sentence
    if len(rule) > limit:
        rule = rule[:limit].rstrip("，、；：") + "……"
    return rule


def compose(hit: Hit) -> str:
    passage = hit.passage
    heading = "" if passage.category == "法规" else f"【{passage.title}】"
    return f"{heading}{short_rule(passage.text)}\n{citation(passage)}"


def compose_full(hit: Hit) -> str:
    passage = hit.passage
    return f"【{passage.title}】{passage.text}\n{citation(passage)}"
