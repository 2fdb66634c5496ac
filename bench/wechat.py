"""WeChat adapter benchmark: passive-reply latency through the full stack vs Rasa's REST channel.

    .venv/bin/python bench/wechat.py [--users 20] [--rounds 20] [--mode safe]

Starts the real action server + Rasa server (tests/support/stack.py, needs `make model`) with
the WeChat channel pointed at a local fake WeChat. First every question is asked once through
each channel (warm-up, not counted: first inference, and the knowledge base's query-vector cache
is then equally warm for both channels). Then, per round, N concurrent simulated veterans each ask
one policy question through both channels, one after the other: half of them REST first, the
other half WeChat first, swapping every round, so at any moment both channels are in flight and
share whatever else the machine is doing. WeChat questions are signed, AES-encrypted pushes;
every user keeps its own conversation per channel. Loopback only; users x rounds requests per
channel.

The overhead figure is per round (WeChat p50 / REST p50 of the same round - 1); the median over
the rounds is the figure, min / max its spread, so a burst from another process on the machine
moves one round, not the result.

Targets (exit status 1 when one is missed, else 0):
  - every WeChat question answered passively within 4.5 s (WeChat gives up at 5 s), no errors;
  - adapter overhead, median over the rounds, at most +20% of the REST p50."""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.fake_wechat import FakeWeChat, make_aes_key  # noqa: E402
from tests.support.stack import start_stack  # noqa: E402

QUESTIONS = [
    "退役军人优待证怎么申请",
    "一次性经济补助有多少",
    "评残要带什么材料",
    "带病回乡退伍军人认定怎么办",
    "退役士兵自主就业有什么补助",
    "义务兵家庭优待金是多少",
    "退役军人创业有什么扶持政策",
    "伤残抚恤金怎么领取",
    "参战参核人员有什么待遇",
    "退役军人子女上学有优待吗",
]
PASSIVE_TARGET = 4.5
OVERHEAD_TARGET = 0.20
MAX_REQUESTS = 400  # per channel: keep the load bounded whatever the arguments say


@dataclass
class Samples:
    latencies: list[float] = field(default_factory=list)
    passive_in_time: int = 0
    failures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, latency: float, passive_ok: bool = True, failed: bool = False) -> None:
        with self.lock:
            self.latencies.append(latency)
            self.passive_in_time += int(passive_ok and not failed and latency <= PASSIVE_TARGET)
            self.failures += int(failed)

    def extend(self, other: "Samples") -> None:
        self.latencies += other.latencies
        self.passive_in_time += other.passive_in_time
        self.failures += other.failures


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def one_round(users: int, round_number: int, ask_rest, ask_wechat) -> tuple[Samples, Samples]:
    """Every user asks one question through both channels, in alternating order; returns this
    round's (REST, WeChat) samples."""
    rest, wechat = Samples(), Samples()

    def user(number: int) -> None:
        question = QUESTIONS[(number + round_number) % len(QUESTIONS)]
        asks = [(ask_rest, rest), (ask_wechat, wechat)]
        for ask, samples in asks if (number + round_number) % 2 else reversed(asks):
            ask(number, question, samples)

    threads = [threading.Thread(target=user, args=(n,)) for n in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return rest, wechat


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=20, help="questions per user and channel")
    parser.add_argument("--mode", choices=["safe", "compat", "plain"], default="safe")
    args = parser.parse_args()
    rounds = max(1, min(args.rounds, MAX_REQUESTS // max(1, args.users)))

    token, app_id = "bench-token", "wx_bench_pinghu"
    fake = FakeWeChat(token, make_aes_key(), app_id, "bench-secret")
    fake.start()
    env = {
        "WECHAT_TOKEN": token,
        "WECHAT_ENCODING_AES_KEY": fake.aes_key,
        "WECHAT_APP_ID": app_id,
        "WECHAT_APP_SECRET": "bench-secret",
        "WECHAT_API_BASE_URL": fake.base_url,
    }
    run_id = int(time.time())
    rest, wechat, overheads = Samples(), Samples(), []
    try:
        print(f"load average at start: {os.getloadavg()[0]:.1f}")
        print("starting the action server and Rasa server ...", flush=True)
        with start_stack(env) as stack:
            rest_url = f"{stack.rasa_url}/webhooks/rest/webhook"
            wechat_url = f"{stack.rasa_url}/webhooks/wechat/webhook"

            def ask_rest(number: int, question: str, samples: Samples) -> None:
                started = time.perf_counter()
                try:
                    reply = requests.post(
                        rest_url, json={"sender": f"rest-{run_id}-{number}", "message": question}, timeout=60
                    )
                    ok = reply.ok and bool(reply.json())
                except requests.RequestException:
                    ok = False
                samples.add(time.perf_counter() - started, failed=not ok)

            def ask_wechat(number: int, question: str, samples: Samples) -> None:
                result = fake.push_text(wechat_url, f"oBench{run_id}{number:03d}", question, mode=args.mode)
                passive = result.attempts == 1 and result.content is not None
                samples.add(result.latency, passive_ok=passive, failed=result.status != 200)

            print("warm-up: every question once through each channel ...", flush=True)
            for number, question in enumerate(QUESTIONS):
                requests.post(rest_url, json={"sender": f"warm-{run_id}-{number}", "message": question}, timeout=60)
                fake.push_text(wechat_url, f"oWarm{run_id}{number:03d}", question, mode=args.mode)

            print(f"{rounds} rounds of {args.users} concurrent users, each asking through both channels ...",
                  flush=True)
            for round_number in range(rounds):
                round_rest, round_wechat = one_round(args.users, round_number, ask_rest, ask_wechat)
                rest.extend(round_rest)
                wechat.extend(round_wechat)
                rest_p50, wechat_p50 = percentile(round_rest.latencies, .5), percentile(round_wechat.latencies, .5)
                overheads.append(wechat_p50 / rest_p50 - 1)
                print(f"  round {round_number + 1:>2}: REST p50 {rest_p50:.3f} s, WeChat p50 {wechat_p50:.3f} s, "
                      f"overhead {overheads[-1]:+.1%}", flush=True)
            late_customer_service = len(fake.custom_messages)
    finally:
        fake.stop()

    rows = [("REST /webhooks/rest/webhook", rest), (f"WeChat ({args.mode} mode, passive)", wechat)]
    print()
    print(f"{'channel':34} {'n':>4} {'p50 s':>7} {'p95 s':>7} {'p99 s':>7} {'max s':>7} {'<=4.5s':>8} {'errors':>6}")
    for name, samples in rows:
        values = samples.latencies
        within = samples.passive_in_time / len(values) if values else 0.0
        print(
            f"{name:34} {len(values):>4} {percentile(values, .5):>7.3f} {percentile(values, .95):>7.3f} "
            f"{percentile(values, .99):>7.3f} {max(values, default=float('nan')):>7.3f} {within:>8.1%} {samples.failures:>6}"
        )
    overhead = statistics.median(overheads)
    within = wechat.passive_in_time / max(1, len(wechat.latencies))
    print()
    print(f"adapter overhead at p50, median of {len(overheads)} rounds: {overhead:+.1%} "
          f"(spread {min(overheads):+.1%} .. {max(overheads):+.1%}; target <= {OVERHEAD_TARGET:+.0%})")
    print(f"answered passively within {PASSIVE_TARGET} s: {within:.1%} (target 100%); "
          f"errors: REST {rest.failures}, WeChat {wechat.failures} (target 0)")
    print(f"answers sent later by customer-service message: {late_customer_service}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    met = within == 1.0 and rest.failures == 0 and wechat.failures == 0 and overhead <= OVERHEAD_TARGET
    print("targets met" if met else "TARGET MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
