"""Helpers of the crash and concurrency tests: warehouse runs in this process and in a child
process (tests/reliability/warehouse_child.py), and what a reader of the published file sees."""

from __future__ import annotations

import fcntl
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.reliability.synthetic import run_inputs
from warehouse.load import table_counts
from warehouse.publish import build_and_publish, is_work_file_of, lock_path, open_readonly

ROOT = Path(__file__).resolve().parents[2]
ROWS = 3000


def child(published: Path, run: int, *, stop: str | None = None, marker: Path | None = None,
          pause: float | None = None, rows: int = ROWS) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "tests.reliability.warehouse_child", str(published), str(run), str(rows)]
    if stop:
        cmd += ["--stop", stop, "--marker", str(marker)]
    if pause is not None:
        cmd += ["--pause", str(pause)]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def finish(proc: subprocess.Popen, timeout: float = 300) -> None:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"run failed ({proc.returncode}): {err[-3000:]}"


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"child ended before {path.name}: {proc.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"child never reached {path.name}")
        time.sleep(0.05)


def kill9(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def state(published: Path) -> tuple[dict[str, int], set[tuple[str, str]]]:
    """Rows per table and the runs recorded: what a reader of the published file sees."""
    con = open_readonly(published)
    try:
        runs = {tuple(r) for r in con.execute("select source, run_id from marts.source_runs").fetchall()}
        return table_counts(con), runs
    finally:
        con.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lock_is_free(published: Path) -> bool:
    fd = os.open(lock_path(published), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def work_files(published: Path) -> list[Path]:
    """The runs' work files (and their WALs) beside ``published``: none once every run ended
    or, after a run was killed, once the next run took the lock."""
    return sorted(p for p in published.parent.iterdir() if is_work_file_of(p, published))


def a_work_file_is_written(published: Path) -> bool:
    """Whether a run's work file beside ``published`` has content yet (a build under way)."""
    for path in work_files(published):
        try:
            if path.stat().st_size > 0:
                return True
        except FileNotFoundError:  # published or removed meanwhile
            continue
    return False


def run_here(published: Path, run: int, rows: int = ROWS) -> dict:
    """A whole run (build + publish under the lock) in this process, as the pipeline's
    warehouse step does it: the baseline and the run after a crash. Returns the load stats."""
    return build_and_publish(published, run_inputs(rows, run))
