"""`vetbot supervise` (what `make run` uses) on a Procfile of tiny Python processes: a crashed one is
restarted with growing delays and its exit logged with the reason, the others keep running, a
process that stays up resets the backoff, and SIGTERM stops every child and grandchild."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VETBOT = Path(sys.executable).parent / "vetbot"
TIMEOUT = 60  # generous: the machine is shared and slow; every wait polls for its condition


def script(tmp_path: Path, name: str, body: str) -> str:
    """A Procfile command that runs `body` as a Python script which first writes its pid to name.pid."""
    path = tmp_path / f"{name}.py"
    path.write_text(
        "import os, signal, subprocess, sys, time\n"
        f"open({str(tmp_path / (name + '.pid'))!r}, 'a').write(f'{{os.getpid()}}\\n')\n" + body
    )
    return f"{sys.executable} {path}"


def pids(tmp_path: Path, name: str) -> list[int]:
    path = tmp_path / f"{name}.pid"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead, only not yet collected by its parent
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def wait_for(condition, what: str, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Run:
    """The supervisor as a real process; its output lines collected with the time each arrived."""

    def __init__(self, tmp_path: Path, procfile: dict[str, str], *args: str, command=None):
        path = tmp_path / "Procfile"
        path.write_text("# tiny processes\n\n" + "".join(f"{n}: {c}\n" for n, c in procfile.items()))
        command = command or [sys.executable, "-m", "vetbot.supervise"]
        self.process = subprocess.Popen([*command, "--procfile", str(path), *args], cwd=ROOT,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[tuple[float, str]] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def matching(self, pattern: str) -> list[tuple[float, re.Match]]:
        return [(at, m) for at, line in list(self.lines) if (m := re.search(pattern, line))]

    def terminate(self, timeout: float = TIMEOUT) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        self.reader.join(timeout=5)
        return code

    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)


@pytest.fixture
def runs():
    started: list[Run] = []
    yield started
    for run in started:  # a failed test must leave no supervisor (nor its children) behind
        if run.process.poll() is None:
            run.process.send_signal(signal.SIGTERM)
            try:
                run.process.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                run.process.kill()
                run.process.wait()


def test_a_crashing_process_is_restarted_with_growing_delays_and_the_others_keep_running(tmp_path, runs):
    procfile = {
        "steady": script(tmp_path, "steady", "print('steady up', flush=True)\ntime.sleep(600)\n"),
        "crash": script(tmp_path, "crash", "print('about to fail', flush=True)\ntime.sleep(0.2)\nsys.exit(3)\n"),
    }
    run = Run(tmp_path, procfile, "--backoff", "0.2", "0.8", "30")
    runs.append(run)
    exits = wait_for(lambda: (found := run.matching(r"crash (.+) after .*restarting in ([\d.]+) s")) and
                     len(found) >= 4 and found, "four exits of the crashing process")

    assert [m.group(1) for _, m in exits[:4]] == ["exited with code 3"] * 4, run.text()
    delays = [float(m.group(2)) for _, m in exits[:4]]
    assert delays == [0.2, 0.4, 0.8, 0.8], run.text()  # doubling, then capped
    assert len(run.matching(r"\|   crash> about to fail$")) >= 4, "its last output is logged with the exit"
    assert re.search(r"^\d\d:\d\d:\d\d crash +\| about to fail$", run.text(), re.M), "output prefixed by name"
    starts = [at for at, _ in run.matching(r"crash started \(pid=\d+\)")]
    for before, after, delay in zip(starts, starts[1:], delays):
        assert after - before >= delay, (starts, delays)  # each restart waited at least its delay

    # The steady process was started once and is still the same, running process.
    assert len(run.matching(r"steady started")) == 1, run.text()
    [steady_pid] = pids(tmp_path, "steady")
    assert alive(steady_pid)
    crash_pids = pids(tmp_path, "crash")
    assert len(set(crash_pids)) >= 4

    assert run.terminate() == 0
    assert not alive(steady_pid) and not any(alive(pid) for pid in crash_pids)


def test_sigterm_stops_every_child_and_grandchild_and_kills_one_that_ignores_it(tmp_path, runs):
    grandchild = "import time, os\nopen(%r, 'a').write(f'{os.getpid()}\\n')\ntime.sleep(600)\n" % str(
        tmp_path / "grandchild.pid")
    procfile = {
        "quiet": script(tmp_path, "quiet", "time.sleep(600)\n"),
        # forks a helper and waits on it: the helper is in the same process group
        "parent": script(tmp_path, "parent", f"subprocess.run([sys.executable, '-c', {grandchild!r}])\n"),
        "stubborn": script(tmp_path, "stubborn",
                           "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                           "print('ignoring SIGTERM', flush=True)\ntime.sleep(600)\n"),
    }
    # Through the real `vetbot supervise` entry, as scripts/run.sh starts it.
    run = Run(tmp_path, procfile, "--grace", "1", command=[str(VETBOT), "supervise"])
    runs.append(run)
    wait_for(lambda: all(pids(tmp_path, n) for n in ("quiet", "parent", "grandchild", "stubborn"))
             and run.matching("ignoring SIGTERM"), "every process to be up")
    everyone = [pid for n in ("quiet", "parent", "grandchild", "stubborn") for pid in pids(tmp_path, n)]
    assert all(alive(pid) for pid in everyone)

    assert run.terminate() == 0
    assert run.matching(r"stubborn still running after 1 s: sending SIGKILL"), run.text()
    assert run.matching(r"all processes stopped$"), run.text()
    wait_for(lambda: not any(alive(pid) for pid in everyone), "no process left behind", timeout=10)


def test_a_process_that_stayed_up_starts_again_from_the_shortest_delay(tmp_path, runs):
    counter = tmp_path / "runs"
    # Runs 1-3 and 5-6 fail at once; run 4 stays up 6 s, longer than the 3 s that count as stable.
    body = (f"n = int(open({str(counter)!r}).read() or 0) + 1 if os.path.exists({str(counter)!r}) else 1\n"
            f"open({str(counter)!r}, 'w').write(str(n))\n"
            "print(f'run {n}', flush=True)\n"
            "time.sleep(6 if n == 4 else 0)\nsys.exit(1)\n")
    run = Run(tmp_path, {"flaky": script(tmp_path, "flaky", body)}, "--backoff", "0.2", "10", "3")
    runs.append(run)
    exits = wait_for(lambda: (found := run.matching(r"flaky exited .* after ([\d.]+) s; restarting in ([\d.]+) s"))
                     and len(found) >= 5 and found, "five exits")
    assert float(exits[3][1].group(1)) >= 3, run.text()  # run 4 counted as having stayed up
    assert [float(m.group(2)) for _, m in exits[:5]] == [0.2, 0.4, 0.8, 0.2, 0.4], run.text()
    assert run.terminate() == 0


def test_a_procfile_without_processes_is_refused_in_plain_words(tmp_path):
    (tmp_path / "Procfile").write_text("# nothing here\n")
    result = subprocess.run([sys.executable, "-m", "vetbot.supervise", "--procfile", str(tmp_path / "Procfile")],
                            cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 2
    assert "Procfile 里没有进程" in result.stderr and "Traceback" not in result.stderr
