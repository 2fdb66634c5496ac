"""`vetbot supervise`: run every process of a Procfile and keep it running (what `make run` uses).

honcho stops the whole group when one process exits, so a crashed action server took Rasa, the
console and the jobs down with it. Here a process that exits (crash, kill, or even a clean exit:
all of them are meant to run forever) is started again after a delay that doubles from 1 s up to
30 s while it keeps failing, and is back to 1 s once it has stayed up a minute. Each exit is logged
with its reason (exit code or signal, how long it ran, its last lines of output). Output is
prefixed with the time and the process name, as honcho does. SIGINT / SIGTERM stop everything:
SIGTERM to each process group, SIGKILL after a grace period. Stdlib only.

Each process runs through `sh -c` (so `$VARS` and `VAR=x cmd` in the Procfile work) in its own
session: signals go to its whole process group, so a helper it forked never outlives it.
"""
from __future__ import annotations

import argparse
import collections
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")
SYSTEM = "supervise"
TAIL_LINES = 10


@dataclass(frozen=True)
class Backoff:
    first: float = 1.0          # delay before the first restart
    longest: float = 30.0       # the delay stops doubling here
    stable_after: float = 60.0  # up this long: the next crash starts again from `first`


def parse_procfile(text: str) -> dict[str, str]:
    """name → command, in file order (blank lines and # comments skipped)."""
    processes: dict[str, str] = {}
    for line in text.splitlines():
        match = PROCFILE_LINE.match(line.strip())
        if match:
            name, command = match.groups()
            if name in processes:
                raise ValueError(f"Procfile 里进程名重复：{name}")
            processes[name] = command
    if not processes:
        raise ValueError("Procfile 里没有进程")
    return processes


class Output:
    """Lines from every process onto one stream, each `HH:MM:SS name | text`, whole lines only."""

    def __init__(self, stream, width: int):
        self.stream, self.width, self.lock = stream, width, threading.Lock()

    def line(self, name: str, text: str) -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        with self.lock:
            self.stream.write(f"{stamp} {name:<{self.width}} | {text}\n")
            self.stream.flush()


@dataclass
class Child:
    name: str
    command: str
    delay: float                       # the next restart waits this long
    process: subprocess.Popen | None = None
    reader: threading.Thread | None = None
    started_at: float = 0.0
    restart_at: float = 0.0            # monotonic time of the next start, while not running
    tail: collections.deque = field(default_factory=lambda: collections.deque(maxlen=TAIL_LINES))


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


class Supervisor:
    def __init__(self, processes: dict[str, str], backoff: Backoff = Backoff(), grace: float = 10.0,
                 cwd: str | None = None, stream=None):
        width = max(len(name) for name in [*processes, SYSTEM])
        self.output = Output(stream or sys.stdout, width)
        self.backoff, self.grace, self.cwd = backoff, grace, cwd
        self.children = [Child(name, command, backoff.first) for name, command in processes.items()]
        self.stop_signal = ""  # set by SIGINT / SIGTERM

    def log(self, text: str) -> None:
        self.output.line(SYSTEM, text)

    def request_stop(self, signum, _frame) -> None:
        # Only note it: a lock taken here (logging, threading.Event) could be the one the main
        # thread holds at that moment, and wait forever.
        self.stop_signal = signal.Signals(signum).name

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        for child in self.children:
            self.start(child)
        while not self.stop_signal:
            now = time.monotonic()
            for child in self.children:
                if child.process is None:
                    if now >= child.restart_at:
                        self.start(child)
                elif child.process.poll() is not None:
                    self.reap(child, now)
            time.sleep(0.1)
        self.log(f"{self.stop_signal} received: stopping all processes")
        self.stop_all()
        return 0

    def start(self, child: Child) -> None:
        child.tail.clear()
        child.process = subprocess.Popen(
            ["/bin/sh", "-c", child.command], cwd=self.cwd, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )
        child.started_at = time.monotonic()
        child.reader = threading.Thread(target=self.pump, args=(child, child.process), daemon=True)
        child.reader.start()
        self.log(f"{child.name} started (pid={child.process.pid})")

    def pump(self, child: Child, process: subprocess.Popen) -> None:
        for raw in iter(process.stdout.readline, b""):
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            child.tail.append(text)
            self.output.line(child.name, text)
        process.stdout.close()

    def reap(self, child: Child, now: float) -> None:
        process, ran = child.process, now - child.started_at
        kill_group(process.pid, signal.SIGKILL)  # whatever it forked and left behind would hold its port
        child.reader.join(timeout=2)
        if ran >= self.backoff.stable_after:
            child.delay = self.backoff.first
        self.log(f"{child.name} {describe_exit(process.returncode)} after {ran:.1f} s; "
                 f"restarting in {child.delay:g} s; its last output:")
        for text in list(child.tail) or ["(none)"]:
            self.output.line(SYSTEM, f"  {child.name}> {text}")
        child.process, child.restart_at = None, now + child.delay
        child.delay = min(child.delay * 2, self.backoff.longest)

    def stop_all(self) -> None:
        started = [c for c in self.children if c.process is not None]
        for child in started:
            if child.process.poll() is None:
                self.log(f"sending SIGTERM to {child.name} (pid {child.process.pid})")
                kill_group(child.process.pid, signal.SIGTERM)
        # Wait for whole groups, not just the leaders: a shell may be gone while what it ran is not.
        deadline = time.monotonic() + self.grace
        while time.monotonic() < deadline and any(group_alive(c.process) for c in started):
            time.sleep(0.05)
        for child in started:
            if group_alive(child.process):
                self.log(f"{child.name} still running after {self.grace:g} s: sending SIGKILL")
                kill_group(child.process.pid, signal.SIGKILL)
            child.process.wait()
            child.reader.join(timeout=2)
            self.log(f"{child.name} {describe_exit(child.process.returncode)}")
        self.log("all processes stopped")


def group_alive(process: subprocess.Popen) -> bool:
    """Whether anything of the process's group still runs (its leader is reaped first)."""
    process.poll()
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already empty


def register(groups) -> None:
    parser = groups.add_parser("supervise", help="运行 Procfile 里的全部进程，哪个退出了就按退避时间重启（make run 用）")
    parser.add_argument("-f", "--procfile", default="Procfile", help="Procfile 路径（默认 ./Procfile）")
    parser.add_argument("--grace", type=float, default=10.0, metavar="SECONDS",
                        help="停止时先 SIGTERM，等这么久还没退出就 SIGKILL（默认 10）")
    parser.add_argument("--backoff", type=float, nargs=3, default=[1.0, 30.0, 60.0],
                        metavar=("FIRST", "LONGEST", "STABLE"),
                        help="重启等待：首次秒数、最长秒数、连续运行多久后重置（默认 1 30 60）")
    parser.set_defaults(handler=cmd_supervise)


def cmd_supervise(args: argparse.Namespace) -> int:
    path = Path(args.procfile)
    try:
        processes = parse_procfile(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        print(f"无法读取 {path}：{error}", file=sys.stderr)
        return 2
    first, longest, stable = args.backoff
    return Supervisor(processes, Backoff(first, longest, stable), args.grace, cwd=str(path.resolve().parent)).run()


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="python -m vetbot.supervise")
    register(_parser.add_subparsers(dest="group", required=True))
    _args = _parser.parse_args(["supervise", *sys.argv[1:]])
    sys.exit(_args.handler(_args))
