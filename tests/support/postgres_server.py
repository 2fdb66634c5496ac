"""A throwaway PostgreSQL cluster for the storage tests, which run on it as well as on SQLite
(tests/booking/databases.py).

`.ci/run` installs Debian's postgresql; $VETBOT_TEST_DATABASE_URL, when set, is used instead of a
cluster of our own. Where neither exists (a developer machine) the PostgreSQL backend is absent,
but under CI (CI=true) it stays and its tests fail, so a broken install cannot hide them.
"""
from __future__ import annotations

import atexit
import os
import pwd
import shutil
import subprocess
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from tests.support.stack import free_port

_cluster = ExitStack()
_url: str | None = None


def binaries() -> Path | None:
    """The directory of initdb and pg_ctl: on PATH, else Debian's (off PATH), newest version."""
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    debian = list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not debian:
        return None
    return max(debian, key=lambda pg_ctl: float(pg_ctl.parts[-3])).parent


def wanted() -> bool:
    """Whether the storage tests run on PostgreSQL too."""
    return bool(os.environ.get("VETBOT_TEST_DATABASE_URL") or os.environ.get("CI") or binaries())


def server_url() -> str:
    """$VETBOT_TEST_DATABASE_URL, or this process's cluster: started on first use (one per
    pytest-xdist worker), stopped and deleted when the process exits."""
    global _url
    given = os.environ.get("VETBOT_TEST_DATABASE_URL")
    if given:
        return given
    if _url is None:
        _url = _cluster.enter_context(running_postgres())
        atexit.register(_cluster.close)
    return _url


@contextmanager
def running_postgres():
    """Yields the SQLAlchemy URL of a fresh cluster in a temp dir (trust auth, fsync off, its
    socket in the temp dir, TCP on a free loopback port); stops and deletes it afterwards."""
    bin_dir = binaries()
    if bin_dir is None:
        pytest.fail("PostgreSQL is not installed (.ci/run installs it)")
    workdir = Path(tempfile.mkdtemp(prefix="vetbot-postgres-"))
    data, log, port = workdir / "data", workdir / "server.log", free_port()
    as_owner = _cluster_owner(workdir)
    try:
        _run(as_owner, bin_dir / "initdb", "-D", data, "-U", "postgres", "-A", "trust",
             "-E", "UTF8", "--locale=C", "--no-sync")
        try:
            _run(as_owner, bin_dir / "pg_ctl", "start", "-w", "-D", data, "-l", log, "-o",
                 f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off")
        except RuntimeError as error:
            raise RuntimeError(f"{error}\n{log.read_text(errors='replace')}") from None
        try:
            yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
        finally:
            _run(as_owner, bin_dir / "pg_ctl", "stop", "-D", data, "-m", "immediate")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _cluster_owner(workdir: Path) -> dict:
    """initdb refuses to run as root (CI): there the cluster belongs to the `postgres` user."""
    if os.geteuid() != 0:
        return {}
    user = pwd.getpwnam("postgres")
    os.chown(workdir, user.pw_uid, user.pw_gid)
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _run(as_owner: dict, *command) -> None:
    done = subprocess.run([str(part) for part in command], capture_output=True, text=True,
                          cwd="/", **as_owner)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(command[0]).name} failed: {done.stdout}{done.stderr}")
