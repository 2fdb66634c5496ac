"""The dialogue evaluation's judging, without a server: how a tracker turn is read, how a reply is
sorted (right / suggested / wrong / refused), which way a turn took, the noise pairs and the
figures. The same code runs against the real stack in tests/test_dialogue_eval_stack.py."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from knowledge import dialogue_eval as de
from knowledge.dialogue_eval import REFUSED, RIGHT, SUGGESTED, WRONG, Item, Turn


def user(text="问题"):
    return {"event": "user", "text": text}


def action(name):
    return {"event": "action", "name": name}


def slot(name, value):
    return {"event": "slot", "name": name, "value": value}


def bot(text, *payloads):
    return {"event": "bot", "text": text, "data": {"buttons": [{"title": p, "payload": p} for p in payloads]}}


FEE = Item("评残要钱吗", frozenset({"pingcan-fee", "pinghu-daiban"}), (("不收费", "免费"),))
PLAIN = Item("优待证怎么领", frozenset({"youdaizheng-shenling"}))
NONE = Item("平湖明天下雨吗")


def test_a_turn_is_the_events_after_the_last_user_message():
    events = [user("评残怎么申请"), action("action_answer_policy"), slot("policy_answer_id", "old"),
              slot("offered_payload", "policy:old"), bot("旧的回答"), action("action_listen"),
              user("那要带什么"), action("action_answer_policy"), slot("policy_answer_id", None),
              slot("policy_answer_id", "pingcan-cailiao"), slot("offered_payload", None),
              bot("要带原始病历", "/ask_more", "/request_human"), action("action_listen")]
    turn = de.read_turn(events)
    assert turn.actions == ["action_answer_policy"]
    assert turn.answer_id == "pingcan-cailiao" and turn.offered is None
    assert turn.text == "要带原始病历" and turn.payloads == ["/ask_more", "/request_human"]


def test_a_slot_left_from_an_earlier_turn_is_not_this_turns_answer():
    events = [user(), action("action_answer_policy"), slot("policy_answer_id", "lieshi-baoyangjin"), bot("答"),
              user("阿巴阿巴"), action("booking_form"), bot("请问办哪项？")]
    turn = de.read_turn(events)
    assert turn.answer_id is None and turn.actions == ["booking_form"]


@pytest.mark.parametrize("turn, expected", [
    (Turn("评残不收费。依据：…", ["action_answer_policy"], "pingcan-fee"), RIGHT),
    (Turn("评残要带原始病历。", ["action_answer_policy"], "pingcan-fee"), WRONG),  # right entry, aspect missed
    (Turn("不收费", ["action_answer_policy"], "youdaizheng-shoufei"), WRONG),  # an unlabelled entry
    (Turn("您是想问“评残收费”吗？", ["action_answer_policy"], None, "policy:pingcan-fee"), SUGGESTED),
    (Turn("您是想问“光荣牌”吗？", ["action_answer_policy"], None, "policy:guangrongpai"), WRONG),
    (Turn("没有找到", ["action_answer_policy"], None, "/request_human"), REFUSED),
    (Turn("请问办哪项？", ["booking_form"]), REFUSED),
    (Turn("在服务站办，免费。", ["action_answer_policy"], None, None, ["/book_service"]), RIGHT),  # catalogue
    (Turn("在服务站办。", ["action_answer_policy"], None, None, ["/book_service"]), WRONG),
])
def test_an_answerable_question_is_sorted_by_the_entry_and_the_aspect(turn, expected):
    assert de.sort_reply(FEE, turn) == expected


def test_an_item_without_keywords_is_judged_by_the_entry_alone():
    assert de.sort_reply(PLAIN, Turn("任何文字", ["action_answer_policy"], "youdaizheng-shenling")) == RIGHT
    # A catalogue reply cannot be judged without the aspect's words: not counted right.
    catalogue = Turn("在服务站办", ["action_answer_policy"], None, None, ["/book_service"])
    assert de.sort_reply(PLAIN, catalogue) == WRONG


@pytest.mark.parametrize("turn, expected", [
    (Turn("没有找到", ["action_answer_policy"], None, "/request_human"), REFUSED),
    (Turn("您可以换个说法", ["action_fallback_rephrase"]), REFUSED),
    (Turn("答了", ["action_answer_policy"], "youdaizheng-yongtu"), WRONG),
    (Turn("您是想问…吗？", ["action_answer_policy"], None, "policy:youdaizheng-yongtu"), WRONG),
    (Turn("在服务站办", ["action_answer_policy"], None, None, ["/book_service"]), WRONG),
])
def test_an_unanswerable_question_is_right_only_when_refused(turn, expected):
    assert de.sort_reply(NONE, turn) == expected


@pytest.mark.parametrize("actions, answer_id, offered, route", [
    (["action_answer_policy"], None, "/request_human", "policy"),  # refused, but the way was right
    (["action_inform"], "baodao-didian", None, "policy"),  # answered from an entry by another action
    (["action_fallback_rephrase"], None, "policy:lieshi", "policy"),
    (["action_fallback_rephrase"], None, "/request_human", "fallback"),
    (["booking_form"], None, None, "booking"),
    (["action_manage_start", "booking_manage_form"], None, None, "booking"),
    (["appeal_status_form"], None, None, "appeal"),
    (["utter_anything_else"], None, None, "utter_anything_else"),
    ([], None, None, "none"),
])
def test_the_route_is_the_action_that_ran(actions, answer_id, offered, route):
    assert de.route_of(Turn("", actions, answer_id, offered)) == route


def test_files_without_a_split_field_hold_out_every_third_item(tmp_path):
    (tmp_path / "old.yml").write_text("\n".join(f"- {{q: 问题{n}, answers: [a]}}" for n in range(1, 7)),
                                      encoding="utf-8")
    (tmp_path / "new.yml").write_text("- {q: 新问题, answers: [], split: heldout}\n- {q: 另一个, answers: [b], split: dev}",
                                      encoding="utf-8")
    for name in ("noise.yml", "routing.yml"):  # messages, not questions
        (tmp_path / name).write_text("- {message: 阿巴阿巴, kind: gibberish, split: dev}", encoding="utf-8")
    questions = de.load_questions(tmp_path)
    assert [(q.text, q.split) for q in questions] == [
        ("新问题", "heldout"), ("另一个", "dev"),
        ("问题1", "dev"), ("问题2", "dev"), ("问题3", "heldout"), ("问题4", "dev"), ("问题5", "dev"),
        ("问题6", "heldout")]
    assert not questions[0].answers and questions[1].answers == {"b"}


def test_the_real_files_load():
    questions, conversations = de.load_questions(), de.load_conversations()
    assert len(questions) >= 500 and sum(not q.answers for q in questions) >= 80
    assert len(conversations) >= 45 and all(c.turns[0].split == c.split for c in conversations)
    assert any(t.new_topic for c in conversations for t in c.turns)
    assert len(de.load_messages("noise.yml")) >= 80 and len(de.load_messages("routing.yml")) >= 60


class ScriptedBot:
    """Replies by message: noise gets the fallback, the second one in a row offers a person."""

    def __init__(self, noise: set[str], second_offers: bool = True):
        self.noise, self.second_offers, self.misses = noise, second_offers, {}

    def say(self, sender: str, text: str) -> Turn:
        if text not in self.noise:
            self.misses[sender] = 0
            return Turn("还有什么要帮您的吗？", ["action_accept_offer"])
        self.misses[sender] = self.misses.get(sender, 0) + 1
        offered = "/request_human" if self.misses[sender] >= 2 and self.second_offers else None
        return Turn("没听明白", ["action_fallback_rephrase"], None, offered)


NOISE_ITEMS = [{"message": m, "kind": "filler", "split": s} for m, s in
               [("嗯嗯那个", "dev"), ("呃呃呃", "dev"), ("阿巴", "heldout"), ("qwerty", "dev"), ("。。。", "dev"),
                ("那个那个", "heldout"), ("asdf", "dev")]]


def test_noise_runs_in_pairs_of_the_same_split_and_the_second_miss_must_offer_a_person():
    pairs = de.noise_pairs(NOISE_ITEMS)
    assert [(a["message"], b["message"]) for a, b in pairs] == [
        ("嗯嗯那个", "呃呃呃"), ("qwerty", "。。。"), ("阿巴", "那个那个")]
    records = de.run_noise(ScriptedBot({i["message"] for i in NOISE_ITEMS}), NOISE_ITEMS)
    noise = [r for r in records if r.group == "noise"]
    assert len(noise) == len(NOISE_ITEMS) and all(r.outcome == "fallback" for r in noise)
    assert [r.outcome for r in records if r.group == "two_misses"] == ["offered"] * 3

    records = de.run_noise(ScriptedBot({i["message"] for i in NOISE_ITEMS}, second_offers=False), NOISE_ITEMS)
    assert {r.outcome for r in records if r.group == "two_misses"} == {"not_offered"}


def test_noise_read_as_meaning_is_a_miss_and_no_two_miss_check():
    records = de.run_noise(ScriptedBot({"嗯嗯那个"}), NOISE_ITEMS[:2])
    assert [r.outcome for r in records] == ["fallback", "missed", "not_two_misses"]


def test_the_figures_are_shares_per_split():
    records = [de.Record("questions", "a", "dev", RIGHT), de.Record("questions", "b", "dev", WRONG, aspect_missed=True),
               de.Record("questions", "c", "dev", RIGHT), de.Record("questions", "d", "heldout", REFUSED),
               de.Record("routing", "e", "dev", "policy", "policy"), de.Record("routing", "f", "dev", "fallback", "booking")]
    summary = de.summarise(records)
    assert summary["dev"]["questions"] == pytest.approx({"n": 3, RIGHT: 2 / 3, WRONG: 1 / 3, "aspect_missed": 1 / 3})
    assert summary["heldout"]["questions"][REFUSED] == 1.0
    assert summary["dev"]["routing"]["right"] == 0.5
    assert summary["dev"]["routing"]["policy_right"] == 1.0 and summary["dev"]["routing"]["booking_right"] == 0.0
    assert summary["dev"]["routing"]["appeal_right"] is None
    text = de.table(summary)
    assert "0.667" in text and "held-out" in text


class FakeRasa(BaseHTTPRequestHandler):
    """The REST channel and the tracker endpoint of a Rasa that answers every question from one entry."""
    trackers: dict[str, list] = {}
    token = "secret"

    def log_message(self, *args):
        pass

    def _send(self, code: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.trackers.setdefault(body["sender"], []).extend([
            user(body["message"]), action("action_answer_policy"), slot("policy_answer_id", "youdaizheng-shenling"),
            bot("到服务站领。"), action("action_listen")])
        self._send(200, [{"recipient_id": body["sender"], "text": "到服务站领。"}])

    def do_GET(self):
        url = urlparse(self.path)
        if parse_qs(url.query).get("token") != [self.token]:
            return self._send(401, {"message": "no token"})
        if url.path == "/status":
            return self._send(200, {})
        sender = url.path.split("/")[2]
        return self._send(200, {"events": self.trackers.get(sender, [])})


@pytest.fixture()
def fake_rasa():
    server = HTTPServer(("127.0.0.1", 0), FakeRasa)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_a_question_goes_over_http_in_its_own_conversation_and_the_tracker_is_read(fake_rasa):
    client = de.Bot(fake_rasa, "secret")
    client.check()
    records = de.run_questions(client, [PLAIN, NONE])
    assert [r.outcome for r in records] == [RIGHT, WRONG]
    assert len(FakeRasa.trackers) == 2  # a fresh sender per question
    with pytest.raises(RuntimeError, match="令牌"):
        de.Bot(fake_rasa, "wrong").check()


