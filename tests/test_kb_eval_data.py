"""The KB evaluation data (tests/kb_eval/) is sound: labels name real corpus entries, every aspect's
keywords can be met by quoting a labelled entry, the held-out part follows its stated rule, and no
question is asked twice. Bad data would make every figure measured on it wrong."""
import re
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from knowledge.corpus import load_corpus

DATA = Path(__file__).parent / "kb_eval"
ASPECTS = {"amount", "procedure", "documents", "place", "time_limit", "eligibility", "fee", "recipient", "other"}
STYLES = {"colloquial", "typo", "formal", "voice", "dialect", "elderly"}
MINIMUM = {"questions_aspects.yml": 160, "unanswerable_more.yml": 40, "conversations.yml": 45,
           "noise.yml": 80, "routing.yml": 60}
# Messages for the dialogue evaluation that are not knowledge-base questions (key `message`, not `q`).
MESSAGE_FILES = {"noise.yml": ("kind", {"filler", "gibberish", "emoji", "punctuation", "mash", "half", "voice"}),
                 "routing.yml": ("route", {"policy", "booking", "appeal", "fallback"})}
# Short replies that mean something (an answer, a choice, a request): never noise.
MEANINGFUL = {"好的", "好", "嗯", "嗯嗯", "是的", "是", "对", "不用了", "不是", "1", "2", "3", "转人工", "人工",
              "谢谢", "再见", "你好", "看更多", "👍", "👌", "🙏"}


def load(name: str) -> list[dict]:
    return yaml.safe_load((DATA / name).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def corpus() -> dict:
    return {entry.id: entry for entry in load_corpus()}


def aspect_turns() -> list[dict]:
    """Every labelled question with an aspect: the aspect set and each conversation turn."""
    turns = [turn for conversation in load("conversations.yml") for turn in conversation["turns"]]
    return load("questions_aspects.yml") + turns


def labelled() -> list[dict]:
    return aspect_turns() + load("unanswerable_more.yml")


def problems_in(item: dict) -> list[str]:
    """What is wrong with one labelled question (empty when it is sound)."""
    entries = corpus()
    q, answers = item["q"], item["answers"]
    problems = [f"{q}: no corpus entry {a!r}" for a in answers if a not in entries]
    if "aspect" in item and item["aspect"] not in ASPECTS:
        problems.append(f"{q}: aspect {item['aspect']!r}")
    groups = item.get("keywords", [])
    if bool(groups) != bool(answers):
        problems.append(f"{q}: keywords are needed exactly when there are answers")
    if problems or not groups:
        return problems
    texts = [entries[a].text for a in answers]
    # One labelled entry must carry every group, so a reply quoting it can pass.
    if not any(all(any(k in text for k in group) for group in groups) for text in texts):
        problems.append(f"{q}: no labelled entry carries all of {groups}")
    # A reply that only echoes the question, or its 依据 line, must not pass.
    if all(any(k in q for k in group) for group in groups):
        problems.append(f"{q}: the question itself carries the keywords")
    sources = "".join(entries[a].source for a in answers)
    problems += [f"{q}: keyword {k!r} is in the cited source's name"
                 for group in groups for k in group if k in sources]
    return problems


def test_labels_name_corpus_entries_and_keywords_are_achievable():
    problems = [p for item in labelled() for p in problems_in(item)]
    assert not problems, "\n".join(problems)


def test_a_bad_label_is_caught():
    item = {"q": "评残要带什么", "answers": ["pingcan-cailiao"], "aspect": "documents",
            "keywords": [["原始病历"]]}
    assert problems_in(item) == []
    assert problems_in({**item, "answers": ["pingcan-no-such-entry"]})
    assert problems_in({**item, "keywords": [["退役金"]]})  # not in the entry's text
    assert problems_in({**item, "keywords": [["评残"]]})  # echoes the question
    assert problems_in({**item, "aspect": "materials"})


@pytest.mark.parametrize("name", sorted(MINIMUM))
def test_counts_and_the_held_out_rule(name):
    items = load(name)
    assert len(items) >= MINIMUM[name]
    # The rule stated at the top of each file: the n-th item is held out when n is divisible by 3.
    assert [item["split"] for item in items] == ["heldout" if n % 3 == 0 else "dev"
                                                 for n in range(1, len(items) + 1)]
    assert 0.25 <= sum(item["split"] == "heldout" for item in items) / len(items) <= 0.40


def test_question_files_hold_what_they_say():
    for item in load("questions_aspects.yml"):
        assert item["answers"] and item["style"] in STYLES, item["q"]
    for item in load("unanswerable_more.yml"):
        assert item["answers"] == [] and item["style"] in STYLES, item["q"]


def test_conversations_have_follow_ups_topic_changes_and_unanswerable_turns():
    conversations = load("conversations.yml")
    assert len({c["id"] for c in conversations}) == len(conversations)
    assert all(2 <= len(c["turns"]) <= 4 for c in conversations)
    assert all(not c["turns"][0].get("new_topic") for c in conversations)
    # A new topic shares no answer with the turn before it, or it would be a follow-up.
    changes = [c for c in conversations if c["turns"][1].get("new_topic")]
    assert len(changes) >= 10
    assert all(not set(c["turns"][0]["answers"]) & set(c["turns"][1]["answers"]) for c in changes)
    follow_ups = [t for c in conversations for t in c["turns"][1:] if not t.get("new_topic")]
    assert sum(bool(t["answers"]) for t in follow_ups) >= 45
    assert sum(not t["answers"] for t in follow_ups) >= 5


def normalised(question: str) -> str:
    return re.sub(r"[\s\W_]+", "", question)


def test_no_question_is_asked_twice():
    """Across every kb_eval file. Elliptical follow-ups (那要带什么) may recur in several
    conversations; a first message never repeats any other question."""
    first = [item["q"] for path in sorted(DATA.glob("*.yml")) if path.name not in MESSAGE_FILES
             and path.name != "conversations.yml" for item in yaml.safe_load(path.read_text(encoding="utf-8"))]
    later = []
    for conversation in load("conversations.yml"):
        first.append(conversation["turns"][0]["q"])
        later += [turn["q"] for turn in conversation["turns"][1:]]
    seen: dict[str, str] = {}
    repeats = [q for q in first if seen.setdefault(normalised(q), q) != q or first.count(q) > 1]
    repeats += [q for q in later if normalised(q) in seen]
    assert not repeats, repeats


@pytest.mark.parametrize("name", sorted(MESSAGE_FILES))
def test_message_files_hold_what_they_say(name):
    key, values = MESSAGE_FILES[name]
    items = load(name)
    assert all(set(item) == {"message", key, "split"} and item[key] in values for item in items), name
    messages = [normalised(item["message"]) or item["message"] for item in items]
    assert len(set(messages)) == len(messages), "a message is there twice"
    # Every kind (route) is in both parts, so neither figure rests on one kind alone.
    for split in ("dev", "heldout"):
        assert {item[key] for item in items if item["split"] == split} == values, (name, split)


def test_noise_holds_no_meaningful_short_reply():
    noise = {item["message"].strip() for item in load("noise.yml")}
    assert not noise & MEANINGFUL
    assert not noise & {item["message"] for item in load("routing.yml") if item["route"] != "fallback"}
