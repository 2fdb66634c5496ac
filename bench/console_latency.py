"""How soon a veteran's message shows in the staff console: starts the real stack (Rasa, action
server) and console (tests/support), logs a staff account in through the API, subscribes to
/api/stream as the page does, sends REST messages one after another and times each from the send
to the arrival of its conversation's update on the stream.

    .venv/bin/python bench/console_latency.py            # 100 messages
    .venv/bin/python bench/console_latency.py -n 20

Prints p50 / p95 / max of message -> stream, and of the REST turn alone (Rasa answering, which the
update waits for: the broker publishes a turn's events when the turn is saved), so the feed's own
share is the difference. Target (issue 9): within 2 s."""
from __future__ import annotations

import argparse
import json
import queue
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from tests.support.console_server import start_console  # noqa: E402
from tests.support.stack import BIN, start_stack  # noqa: E402

MESSAGES = ["你好", "优待证怎么办", "评残要带什么材料", "带病回乡认定去哪里办", "谢谢", "我想预约", "取消", "转人工"]
SENDERS = 10
PASSWORD = "bench-latency-pw-1"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def listen(session: requests.Session, url: str, into: queue.Queue, ready: threading.Event) -> requests.Response:
    response = session.get(f"{url}/api/stream", stream=True, timeout=(5, 120))
    response.raise_for_status()

    def read() -> None:
        try:
            for line in response.iter_lines(decode_unicode=True):
                if line.startswith("retry:"):
                    ready.set()
                elif line.startswith("data:"):
                    into.put((time.monotonic(), json.loads(line.removeprefix("data: "))["sender_id"]))
        except (requests.RequestException, AttributeError):
            pass

    threading.Thread(target=read, daemon=True).start()
    return response


def measure(count: int) -> None:
    with start_stack() as stack, start_console(stack) as url:
        subprocess.run([str(BIN / "vetbot"), "users", "add", "bench", "--display-name", "测速", "--password-stdin"],
                       input=PASSWORD + "\n", text=True, env=stack.env, cwd=ROOT, check=True, capture_output=True)
        session = requests.Session()
        session.post(f"{url}/api/login", json={"username": "bench", "password": PASSWORD}, timeout=30).raise_for_status()
        stack.say("bench-warm-up", "评残要带什么材料", timeout=120)  # the first question loads the model
        arrivals: queue.Queue = queue.Queue()
        ready = threading.Event()
        stream = listen(session, url, arrivals, ready)
        ready.wait(10)
        to_stream, turns, missed = [], [], 0
        for n in range(count):
            sender = f"bench-{n % SENDERS}"
            while not arrivals.empty():
                arrivals.get_nowait()
            sent = time.monotonic()
            stack.say(sender, MESSAGES[n % len(MESSAGES)])
            turns.append(time.monotonic() - sent)
            try:
                while True:
                    at, who = arrivals.get(timeout=10)
                    if who == sender:
                        to_stream.append(at - sent)
                        break
            except queue.Empty:
                missed += 1
        stream.close()
    print(f"{count} REST messages, {SENDERS} conversations; updates missed: {missed}")
    for name, values in (("message -> console stream", to_stream), ("REST turn alone", turns)):
        print(f"{name:28s} p50 {statistics.median(values):.3f} s  p95 {percentile(values, 95):.3f} s  "
              f"max {max(values):.3f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100, help="messages to send (default 100)")
    measure(parser.parse_args().n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
