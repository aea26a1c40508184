"""Run one crawl as a ``scrapy crawl`` subprocess (Twisted's reactor cannot restart in-process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from scrapers.pipelines import landing_dir
from scrapers.registry import Source

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RUN_FILES = ("items.jsonl", "items.index.parquet", "invalid.jsonl", "stats.json", "crawl.log")


def set_aside_previous_attempt(out: Path) -> Path | None:
    """Move an earlier attempt's files of this run into ``attempt-<n>/`` (kept, not deleted)."""
    files = [out / name for name in RUN_FILES if (out / name).exists()]
    if not files:
        return None
    n = 1
    while (out / f"attempt-{n}").exists():
        n += 1
    dest = out / f"attempt-{n}"
    dest.mkdir()
    for f in files:
        f.rename(dest / f.name)
    return dest


def crawl(
    source: Source,
    run_id: str,
    landing_root: Path,
    mirror_url: str | None = None,
    registry: Path | None = None,
    timeout: float = 1800,
    extra_settings: dict[str, str] | None = None,
) -> dict:
    """Crawl ``source`` into ``landing_root/<source>/<run_id>/`` and return its stats.

    A crawl that crashes or times out still returns stats, marked incomplete, with the tail
    of its log: a failing source reports, it never raises into the other sources' runs.
    Crawling a run id again (a retried step) sets the earlier attempt's files aside in
    ``attempt-<n>/`` first, so ``items.jsonl`` never holds two attempts' records.
    """
    out = landing_dir(landing_root, source.name, run_id)
    out.mkdir(parents=True, exist_ok=True)
    set_aside_previous_attempt(out)
    cmd = [sys.executable, "-m", "scrapy", "crawl", source.spider, "-a", f"source={source.name}",
           "-s", f"CREDCAT_LANDING_DIR={Path(landing_root).resolve()}", "-s", f"CREDCAT_RUN_ID={run_id}",
           "-s", f"LOG_FILE={out / 'crawl.log'}"]
    if mirror_url:
        cmd += ["-a", f"mirror_url={mirror_url}"]
    if registry:
        cmd += ["-a", f"registry={Path(registry).resolve()}"]
    for k, v in {**{k: str(v) for k, v in source.settings.items()}, **(extra_settings or {})}.items():
        cmd += ["-s", f"{k}={v}"]
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "scrapers.settings",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    started = datetime.now(UTC)
    try:
        proc = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        code, tail = proc.returncode, (proc.stderr or "")[-4000:]
    except subprocess.TimeoutExpired as exc:
        code, tail = -1, f"timed out after {timeout}s: {str(exc.stderr or '')[-2000:]}"
    stats_file = out / "stats.json"
    if stats_file.exists():
        stats = json.loads(stats_file.read_text())
    else:
        stats = {"source": source.name, "run_id": run_id, "started_at": started.isoformat(),
                 "finished_at": datetime.now(UTC).isoformat(), "finish_reason": "crashed", "pages": 0,
                 "items": 0, "invalid_items": 0, "retries": 0, "failed_pages": 0, "errors": 1, "bytes": 0,
                 "status_counts": {}, "page_defects": {}}
    if code != 0:
        stats["complete"] = False
        stats["finish_reason"] = stats.get("finish_reason") if stats_file.exists() else "crashed"
        stats["exit_code"] = code
        stats["log_tail"] = tail
        stats_file.write_text(json.dumps(stats, indent=1, default=str))
    stats.setdefault("complete", False)
    return stats
