"""`vetbot kb eval --dialogue`: the dev questions sent through a running bot (the trained Rasa model
and the real action server, over HTTP), each reply sorted by what the tracker says it did.

`vetbot kb eval` scores retrieval alone; this scores what a veteran gets. After every turn the
tracker is read: the entry the reply answered from (slot `policy_answer_id`), the passage it
suggested with "您是想问…吗？" or the person it offered (slot `offered_payload`), and the actions
that ran. Only the slot events of that turn count, so a value left from an earlier turn is not
taken for this turn's reply."""
from __future__ import annotations

import json
import sys
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests
import yaml

from vetbot.config import PROJECT_ROOT, subdir
from vetbot.settings import settings

DATA = PROJECT_ROOT / "tests" / "kb_eval"
NOT_QUESTIONS = {"conversations.yml", "noise.yml", "routing.yml"}
SPLITS = ("dev", "heldout")

RIGHT, SUGGESTED, WRONG, REFUSED = "right", "suggested", "wrong", "refused"
HUMAN_PAYLOAD = "/request_human"
POLICY_OFFER = "policy:"
BOOK_PAYLOAD = "/book_service"  # the catalogue's place / how-long reply offers to book

FALLBACK_ACTIONS = {"action_fallback_rephrase"}
POLICY_ACTIONS = {"action_answer_policy"}
BOOKING_ACTIONS = {"booking_form", "action_manage_start", "booking_manage_form", "booking_reschedule_form"}
APPEAL_ACTIONS = {"appeal_form", "appeal_status_form", "appeal_add_form"}
ROUTES = ("policy", "booking", "appeal", "fallback")


# ---------------------------------------------------------------- the data

@dataclass(frozen=True)
class Item:
    """A message to send and what its reply must be: answers = the corpus entries that answer it
    (empty: the corpus does not), keywords = groups the reply must carry one alternative of each."""
    text: str
    answers: frozenset[str] = frozenset()
    keywords: tuple[tuple[str, ...], ...] = ()
    split: str = "dev"
    file: str = ""
    new_topic: bool = False


@dataclass(frozen=True)
class Conversation:
    id: str
    turns: tuple[Item, ...]
    split: str


def split_of(item: dict, n: int) -> str:
    """The item's own `split`; files written before the split field hold the same rule their
    successors state: the n-th item (from 1) is held out when n is divisible by 3."""
    return item.get("split") or ("heldout" if n % 3 == 0 else "dev")


def _item(raw: dict, split: str, file: str) -> Item:
    return Item(str(raw["q"]), frozenset(raw.get("answers") or []),
                tuple(tuple(str(k) for k in group) for group in raw.get("keywords") or []),
                split, file, bool(raw.get("new_topic")))


def _load(name: str, directory: Path) -> list[dict]:
    return yaml.safe_load((directory / name).read_text(encoding="utf-8")) or []


def load_questions(directory: Path = DATA) -> list[Item]:
    """The first-message questions: every item with a `q` outside the conversation, noise and
    routing files."""
    items = []
    for path in sorted(directory.glob("*.yml")):
        if path.name in NOT_QUESTIONS:
            continue
        raw = [item for item in _load(path.name, directory) if "q" in item]
        items += [_item(item, split_of(item, n), path.name) for n, item in enumerate(raw, 1)]
    return items


def load_conversations(directory: Path = DATA) -> list[Conversation]:
    return [Conversation(c["id"], tuple(_item(t, split_of(c, n), "conversations.yml") for t in c["turns"]),
                         split_of(c, n))
            for n, c in enumerate(_load("conversations.yml", directory), 1)]


def load_messages(name: str, directory: Path = DATA) -> list[dict]:
    """noise.yml / routing.yml: {message, kind | route, split}."""
    return [{**item, "split": split_of(item, n)} for n, item in enumerate(_load(name, directory), 1)]


# ---------------------------------------------------------------- one turn, read from the tracker

@dataclass
class Turn:
    text: str = ""  # everything the bot said in the turn
    actions: list[str] = field(default_factory=list)  # actions run after the user's message
    answer_id: str | None = None  # entry the reply answered from
    offered: str | None = None  # "policy:<id>" (a suggestion) or "/request_human" (a person)
    payloads: list[str] = field(default_factory=list)  # the reply's button payloads

    @property
    def suggested(self) -> str | None:
        return self.offered.removeprefix(POLICY_OFFER) if self.offered and self.offered.startswith(POLICY_OFFER) else None

    @property
    def from_catalogue(self) -> bool:
        """A place / how-long reply from the booking catalogue: the policy action answered from no
        entry and offered to book."""
        return (bool(set(self.actions) & POLICY_ACTIONS) and not self.answer_id and not self.suggested
                and BOOK_PAYLOAD in self.payloads)


def read_turn(events: list[dict]) -> Turn:
    """The last turn of a tracker: the events after the last user message."""
    start = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1) + 1
    turn, texts = Turn(), []
    for event in events[start:]:
        kind = event.get("event")
        if kind == "action" and event.get("name") != "action_listen":
            turn.actions.append(event["name"])
        elif kind == "bot":
            texts.append(event.get("text") or "")
            turn.payloads += [b.get("payload", "") for b in (event.get("data") or {}).get("buttons") or []]
        elif kind == "slot" and event.get("name") == "policy_answer_id":
            turn.answer_id = event.get("value")
        elif kind == "slot" and event.get("name") == "offered_payload":
            turn.offered = event.get("value")
    turn.text = "\n".join(texts)
    return turn


# ---------------------------------------------------------------- sorting a reply

def keywords_met(item: Item, text: str) -> bool:
    return all(any(k in text for k in group) for group in item.keywords)


def sort_reply(item: Item, turn: Turn) -> str:
    """right: answered from a labelled entry (with the asked aspect's keywords, where the item has
    them), or from the catalogue with the keywords; suggested: "您是想问" a labelled entry;
    wrong: answered or suggested anything else (for an unanswerable question: anything at all);
    refused: no entry, no suggestion."""
    answered = turn.answer_id or turn.from_catalogue
    if not item.answers:
        return WRONG if answered or turn.suggested else REFUSED
    if turn.answer_id:
        return RIGHT if turn.answer_id in item.answers and keywords_met(item, turn.text) else WRONG
    if turn.from_catalogue:
        return RIGHT if item.keywords and keywords_met(item, turn.text) else WRONG
    if turn.suggested:
        return SUGGESTED if turn.suggested in item.answers else WRONG
    return REFUSED


def aspect_missed(item: Item, turn: Turn) -> bool:
    """Answered from a labelled entry, but without the sentences on what was asked."""
    return bool(turn.answer_id in item.answers and not keywords_met(item, turn.text))


def route_of(turn: Turn) -> str:
    """The way the turn took: a form, the knowledge base (the policy action, or any action that
    answered or suggested from an entry), the fallback, or the first other action."""
    actions = set(turn.actions)
    if actions & BOOKING_ACTIONS:
        return "booking"
    if actions & APPEAL_ACTIONS:
        return "appeal"
    if actions & POLICY_ACTIONS or turn.answer_id or turn.suggested:
        return "policy"
    if actions & FALLBACK_ACTIONS:
        return "fallback"
    return turn.actions[0] if turn.actions else "none"


# ---------------------------------------------------------------- the running bot

class Bot:
    """A running stack: the REST channel to talk, the HTTP API (with the token) to read trackers."""

    def __init__(self, url: str, token: str | None, timeout: float = 60):
        self.url, self.token, self.timeout = url.rstrip("/"), token, timeout
        self.http = requests.Session()

    def check(self) -> None:
        response = self.http.get(f"{self.url}/status", params={"token": self.token}, timeout=self.timeout)
        if response.status_code in (401, 403):
            raise RuntimeError(f"{self.url} 拒绝了令牌：请用 --token 或 RASA_API_TOKEN 给出 Rasa 的 HTTP API 令牌")
        response.raise_for_status()

    def say(self, sender: str, text: str) -> Turn:
        self.http.post(f"{self.url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                       timeout=self.timeout).raise_for_status()
        response = self.http.get(f"{self.url}/conversations/{sender}/tracker",
                                 params={"token": self.token}, timeout=self.timeout)
        response.raise_for_status()
        return read_turn(response.json()["events"])


def new_sender() -> str:
    return f"kb-eval-{uuid.uuid4().hex[:16]}"


# ---------------------------------------------------------------- running the sets

@dataclass
class Record:
    """One message sent and what came of it."""
    group: str  # questions, unanswerable, follow_up, new_topic, conversation_first, noise, two_misses, routing
    text: str
    split: str
    outcome: str  # right / suggested / wrong / refused; noise: fallback / missed; routing: the route taken
    expected: str = ""  # routing: the route it must take
    answer_id: str | None = None
    offered: str | None = None
    actions: list[str] = field(default_factory=list)
    aspect_missed: bool = False

    @classmethod
    def of(cls, kind: str, item: Item, turn: Turn) -> Record:
        return cls(kind, item.text, item.split, sort_reply(item, turn), "", turn.answer_id, turn.offered,
                   turn.actions, aspect_missed(item, turn))


def run_questions(bot: Bot, items: list[Item], progress=None) -> list[Record]:
    records = []
    for item in items:
        turn = bot.say(new_sender(), item.text)
        records.append(Record.of("questions" if item.answers else "unanswerable", item, turn))
        progress and progress()
    return records


def conversation_set(index: int, item: Item) -> str:
    if index == 0:
        return "conversation_first"
    if item.new_topic:
        return "new_topic"
    return "follow_up" if item.answers else "follow_up_unanswerable"


def run_conversations(bot: Bot, conversations: list[Conversation], progress=None) -> list[Record]:
    records = []
    for conversation in conversations:
        sender = new_sender()
        for index, item in enumerate(conversation.turns):
            records.append(Record.of(conversation_set(index, item), item, bot.say(sender, item.text)))
            progress and progress()
    return records


def noise_pairs(items: list[dict]) -> list[tuple[dict, dict]]:
    """Noise messages two by two (same split, file order): each pair is one conversation, so every
    message is tried once and every second one is a second miss in a row."""
    pairs = []
    for split in SPLITS:
        part = [item for item in items if item["split"] == split]
        pairs += list(zip(part[0::2], part[1::2]))
    return pairs


def run_noise(bot: Bot, items: list[dict], progress=None) -> list[Record]:
    """Every noise message must reach the fallback; the second of two in a row must offer a person.
    An odd one left over is sent alone."""
    records = []
    paired = noise_pairs(items)
    alone = [item for item in items if not any(item is a or item is b for a, b in paired)]
    for first, second in paired + [(item, None) for item in alone]:
        sender = new_sender()
        turns = []
        for item in filter(None, (first, second)):
            turn = bot.say(sender, item["message"])
            turns.append(turn)
            reached = bool(set(turn.actions) & FALLBACK_ACTIONS)
            records.append(Record("noise", item["message"], item["split"], "fallback" if reached else "missed",
                                  "", turn.answer_id, turn.offered, turn.actions))
            progress and progress()
        if second is not None:
            both_missed = all(set(t.actions) & FALLBACK_ACTIONS for t in turns)
            handed = turns[1].offered == HUMAN_PAYLOAD
            outcome = ("offered" if handed else "not_offered") if both_missed else "not_two_misses"
            records.append(Record("two_misses", f"{first['message']} → {second['message']}", second["split"],
                                  outcome, "", None, turns[1].offered, turns[1].actions))
    return records


def run_routing(bot: Bot, items: list[dict], progress=None) -> list[Record]:
    records = []
    for item in items:
        turn = bot.say(new_sender(), item["message"])
        records.append(Record("routing", item["message"], item["split"], route_of(turn), item["route"],
                              turn.answer_id, turn.offered, turn.actions))
        progress and progress()
    return records


# ---------------------------------------------------------------- the figures

def _share(records: list[Record], outcome: str) -> float | None:
    return sum(r.outcome == outcome for r in records) / len(records) if records else None


def summarise(records: list[Record]) -> dict:
    """Per split: shares of each outcome for every set, with the counts they are shares of."""
    summary = {}
    for split in SPLITS:
        mine = [r for r in records if r.split == split]
        by_set: dict[str, list[Record]] = {}
        for record in mine:
            by_set.setdefault(record.group, []).append(record)
        figures = {}
        for name, part in by_set.items():
            if name == "routing":
                right = [r for r in part if r.outcome == r.expected]
                figures[name] = {"n": len(part), "right": len(right) / len(part),
                                 **{f"{route}_right": _route_share(part, route) for route in ROUTES}}
                continue
            counts = Counter(r.outcome for r in part)
            figures[name] = {"n": len(part), **{k: v / len(part) for k, v in sorted(counts.items())}}
            if name in ("questions", "follow_up", "new_topic", "conversation_first"):
                figures[name]["aspect_missed"] = sum(r.aspect_missed for r in part) / len(part)
            if name == "two_misses":  # of the pairs that were two misses in a row
                missed_twice = counts["offered"] + counts["not_offered"]
                figures[name]["handover"] = counts["offered"] / missed_twice if missed_twice else None
                figures[name]["missed_twice"] = missed_twice
        summary[split] = figures
    return summary


def _route_share(records: list[Record], route: str) -> float | None:
    part = [r for r in records if r.expected == route]
    return sum(r.outcome == route for r in part) / len(part) if part else None


# What the table shows: (label, set, outcome), the share of that set's messages with that outcome.
ROWS = (
    ("首问可答  答对 right", "questions", RIGHT),
    ("          猜对“您是想问” suggested", "questions", SUGGESTED),
    ("          答错 wrong", "questions", WRONG),
    ("            其中条目对、没答到所问 aspect missed", "questions", "aspect_missed"),
    ("          拒答 refused", "questions", REFUSED),
    ("首问不可答 拒答 refused", "unanswerable", REFUSED),
    ("          答了或猜了 wrong", "unanswerable", WRONG),
    ("多轮 首句答对", "conversation_first", RIGHT),
    ("     追问接上话答对 follow-up right", "follow_up", RIGHT),
    ("     追问答错 wrong", "follow_up", WRONG),
    ("     追问拒答 refused", "follow_up", REFUSED),
    ("     追问不可答、拒答", "follow_up_unanswerable", REFUSED),
    ("     换话题答对 new topic right", "new_topic", RIGHT),
    ("噪声 进入没听懂 fallback", "noise", "fallback"),
    ("连续两次没听懂 第二次转人工 handover", "two_misses", "handover"),
    ("路由 走对 routing right", "routing", "right"),
    ("     policy", "routing", "policy_right"),
    ("     booking", "routing", "booking_right"),
    ("     appeal", "routing", "appeal_right"),
    ("     fallback", "routing", "fallback_right"),
)


def _cell(figures: dict, name: str, key: str) -> str:
    part = figures.get(name)
    if not part:
        return "-"
    value = part.get(key, 0.0)
    return "-" if value is None else f"{value:.3f}"


def _width(text: str) -> int:
    return sum(2 if ord(c) > 0x2E80 else 1 for c in text)


def table(summary: dict, retrieval: dict | None = None) -> str:
    """Dev and held-out side by side; retrieval-only figures on the same first-message questions
    above the dialogue's."""
    label_width = 48
    lines = [" " * label_width + f"{'dev':>10}{'held-out':>10}"]

    def row(label: str, dev: str, held: str) -> None:
        lines.append(label + " " * max(1, label_width - _width(label)) + f"{dev:>10}{held:>10}")

    if retrieval:
        for key, label in (("hit@1", "检索 hybrid hit@1"), ("hit@3", "     hybrid hit@3"),
                           ("refusal", "     不可答被拒 refusal"), ("answered", "     可答未被误拒 answered")):
            row(label, *(f"{retrieval[s][key]:.3f}" if retrieval.get(s) else "-" for s in SPLITS))
    for label, name, key in ROWS:
        row(label, *(_cell(summary.get(s, {}), name, key) for s in SPLITS))
    counts = {s: {name: part["n"] for name, part in summary.get(s, {}).items()} for s in SPLITS}
    lines.append("")
    lines.append("条数 n（dev / held-out）：" + "，".join(
        f"{name} {counts['dev'].get(name, 0)}/{counts['heldout'].get(name, 0)}"
        for name in ("questions", "unanswerable", "conversation_first", "follow_up", "follow_up_unanswerable",
                     "new_topic", "noise", "two_misses", "routing")))
    lines.append("（two_misses：噪声两句一组的对数；其中两句都进了 fallback 的对数 dev / held-out："
                 + "/".join(str(summary.get(s, {}).get("two_misses", {}).get("missed_twice", 0)) for s in SPLITS)
                 + "，handover 按这些算）")
    return "\n".join(lines)


def retrieval_by_split(embedder, questions: list[Item]) -> dict:
    """The retrieval-only figures (`vetbot kb eval`, hybrid) on the same questions, per split."""
    from knowledge.evaluate import Question, run, threshold_for
    from knowledge.index import build_index, kb_dir, open_store, sync_corpus
    from knowledge.search import KnowledgeBase

    # The index `vetbot kb eval` builds: the project corpus alone, whatever a site has imported.
    base = subdir("eval")
    store = open_store(base)
    sync_corpus(store)
    build_index(store, embedder, base=base, cache_path=kb_dir() / "embeddings.sqlite3")
    kb = KnowledgeBase(embedder, base=base)
    figures = {}
    for split in SPLITS:
        part = [Question(q.text, q.answers, "", q.file) for q in questions if q.split == split]
        result = run(kb, part, "hybrid")
        threshold = threshold_for(kb, "hybrid")
        figures[split] = {"hit@1": result.hit(1), "hit@3": result.hit(3), "refusal": result.refused(threshold),
                          "answered": result.answered(threshold)}
    return figures


def evaluate_dialogue(bot: Bot, questions: list[Item], conversations: list[Conversation],
                      noise: list[dict], routing: list[dict], quiet: bool = False) -> list[Record]:
    total = len(questions) + sum(len(c.turns) for c in conversations) + len(noise) + len(routing)
    done = Counter()

    def progress() -> None:
        done["turns"] += 1
        if not quiet and (done["turns"] % 50 == 0 or done["turns"] == total):
            print(f"  {done['turns']}/{total} 句", file=sys.stderr, flush=True)

    return (run_questions(bot, questions, progress) + run_conversations(bot, conversations, progress)
            + run_noise(bot, noise, progress) + run_routing(bot, routing, progress))


def main(url: str | None = None, token: str | None = None, as_json: bool = False, retrieval: bool = True) -> int:
    config = settings()
    bot = Bot(url or config.rasa_url, token or config.rasa_api_token)
    try:
        bot.check()
    except (requests.RequestException, RuntimeError) as error:
        print(f"连不上正在运行的助手（{bot.url}）：{error}\n先 `make run`，或用 --rasa-url / --token 指明。",
              file=sys.stderr)
        return 1
    questions, conversations = load_questions(), load_conversations()
    noise, routing = load_messages("noise.yml"), load_messages("routing.yml")
    records = evaluate_dialogue(bot, questions, conversations, noise, routing, quiet=as_json)
    summary = summarise(records)
    figures = None
    if retrieval:
        from knowledge.embedder import load_embedder

        figures = retrieval_by_split(load_embedder(), questions)
    if as_json:
        print(json.dumps({"dialogue": summary, "retrieval": figures,
                          "records": [record.__dict__ for record in records]}, ensure_ascii=False, indent=1))
        return 0
    print(f"经过正在运行的助手（{bot.url}）逐句评测；held-out 部分从不用来调参。\n")
    print(table(summary, figures))
    return 0
