"""Turn retrieved passages into a short, sourced reply for an older reader.
Only words from the passage are used: nothing is added that the passage does not say, except the
plain statement that it does not state the amount, fee or time limit asked for."""
from __future__ import annotations

import re

from knowledge.aspects import asked_aspect, pick
from knowledge.passage import Passage
from knowledge.search import Hit
from knowledge.sources import registry

MAX_RULE_CHARS = 150
MAX_ASPECT_CHARS = 260  # a checklist is answered whole
# Said when the passage does not address what was asked: better than its other sentences alone.
NOT_STATED = {
    "amount": "这一条没有写具体数额，实际标准以主管部门公布的为准，可以问市退役军人事务局或转人工。",
    "fee": "这一条没有写收不收费，办理前可以问市退役军人事务局或转人工确认。",
    "time_limit": "这一条没有写具体时限，可以问市退役军人事务局或转人工确认。",
}
_SENTENCE_END = re.compile(r"(?<=[。！？])")
_CLAUSE_END = re.compile(r"(?<=[；，：])")


def citation(passage: Passage) -> str:
    """The source line, worded by the kind of source (knowledge/sources.yml): a law by article and
    date; a press report or general practice with the caveat that the bureau's word decides. An
    imported document missing from the registry is cited by its own title and date."""
    source = registry().get(passage.source)
    bureau = "具体以市退役军人事务局公布为准"
    if source is not None and source.kind == "press":
        return f"据{source.outlet}{source.year}年报道，{bureau}"
    if source is not None and source.kind == "practice":
        return f"说明：这是本地一般做法，不出自正式文件，{bureau}"
    if source is not None and source.via:  # a local document known only from a report
        report = registry().get(source.via)
        return f"据{report.outlet}{report.year}年报道的《{source.name}》，{bureau}"
    status = "" if passage.in_force else "，已废止"
    return f"依据：《{passage.source}》{passage.article}（{passage.date}{status}）"


def flatten(text: str) -> str:
    """One paragraph: Chinese lines join without a space, other runs of space become one."""
    return " ".join(re.sub(r"\s*\n\s*", "", text).split())


def short_rule(text: str, limit: int = MAX_RULE_CHARS) -> str:
    """The first one or two sentences of the passage; a long sentence is cut after a clause."""
    text = flatten(text)
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
    rule = sentences[0] if sentences else ""
    if len(sentences) > 1 and len(rule) + len(sentences[1]) <= limit:
        rule += sentences[1]
    if len(rule) > limit:
        clauses = [c for c in _CLAUSE_END.split(rule[:limit]) if c]
        cut = "".join(clauses[:-1]) if len(clauses) > 1 else rule[:limit]
        rule = cut.rstrip("，、；：") + "……"
    return rule


def answer_text(passage: Passage, question: str | None) -> str:
    """The sentences that answer what was asked (the amount, the documents …), else the first
    sentences; a question for an amount the passage does not state is told so."""
    aspect = asked_aspect(question) if question else None
    if aspect:
        picked = pick(flatten_lines(passage.text), aspect, question, MAX_ASPECT_CHARS)
        if picked:
            return picked
        if aspect in NOT_STATED:
            return f"{short_rule(passage.text)}\n{NOT_STATED[aspect]}"
    return short_rule(passage.text)


def flatten_lines(text: str) -> str:
    """Each line as one paragraph (a checklist keeps its lines)."""
    return "\n".join(flatten(line) for line in text.splitlines() if line.strip())


def compose(hit: Hit, question: str | None = None) -> str:
    passage = hit.passage
    heading = "" if passage.category == "法规" else f"【{passage.title}】"
    return f"{heading}{answer_text(passage, question)}\n{citation(passage)}"


def compose_full(hit: Hit) -> str:
    passage = hit.passage
    return f"【{passage.title}】{passage.text}\n{citation(passage)}"
