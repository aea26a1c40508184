"""Failed runs, recorded in the warehouse: ``ops.run_failures``.

The run-failure sensor (pipelines/defs/sensors.py) tags the failed run and requests a run of
``record_run_failure``, whose one op is in the ``duckdb_writer`` pool: it writes like any
other build (a work copy of the published file, then an atomic publish), so it never races the
marts build. Recording the same run twice changes nothing.
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.runtime import DataPaths
from warehouse import ddl
from warehouse.publish import publish

TABLE = "ops.run_failures"
COLUMNS: dict[str, tuple[str, str]] = {
    "run_id": ("VARCHAR NOT NULL", "Id of the failed Dagster run (one row per run)"),
    "job_name": ("VARCHAR", "Job of the run (credcat_full_refresh, source_<name>, __ASSET_JOB for a UI materialization)"),
    "failed_at": ("TIMESTAMPTZ", "When the run failed"),
    "failed_steps": ("VARCHAR[]", "Steps that failed (raw__<source>, staging__<source>, marts_build ...)"),
    "assets": ("VARCHAR[]", "Assets of the failed steps, as asset keys (raw/<source> ...)"),
    "sources": ("VARCHAR[]", "Sources whose raw or staging step failed"),
    "message": ("VARCHAR", "The run's failure message and each failed step's error, cut to 4000 characters"),
    "recorded_at": ("TIMESTAMPTZ", "When this row was written"),
}
TABLE_COMMENT = ("One row per failed pipeline run, written by the run-failure sensor's record_run_failure "
                 "job. Unique key: run_id.")
_STEP = re.compile(r"^(raw|staging)__(?P<source>[a-z][a-z0-9_]*)$")


def step_assets(step_keys: list[str]) -> tuple[list[str], list[str]]:
    """Asset keys and source names of failed steps (``raw__x`` -> raw/x, source x)."""
    assets: list[str] = []
    sources: list[str] = []
    for step in step_keys:
        m = _STEP.match(step)
        if m:
            assets.append(step.replace("__", "/", 1))
            sources.append(m.group("source"))
        elif step == "marts_build":
            assets.append("marts/warehouse")
        else:
            assets.append(step.replace("__", "/"))
    return sorted(set(assets)), sorted(set(sources))


def ensure_table(con: Any) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS ops")
    cols = ", ".join(f"{name} {sql}" for name, (sql, _) in COLUMNS.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ({cols}, PRIMARY KEY (run_id))")
    con.execute(f"COMMENT ON TABLE {TABLE} IS {_literal(TABLE_COMMENT)}")
    for name, (_, comment) in COLUMNS.items():
        con.execute(f"COMMENT ON COLUMN {TABLE}.{name} IS {_literal(comment + '.')}")


def _literal(text: str) -> str:
    """A SQL string literal (COMMENT ON takes no parameters)."""
    return "'" + text.replace("'", "''") + "'"


def record_failure(paths: DataPaths, failure: dict[str, Any]) -> bool:
    """Add ``failure`` to ``ops.run_failures`` of the published warehouse (creating an empty
    warehouse if none exists yet); False when the run was already recorded."""
    published = paths.warehouse
    work = paths.warehouse_dir / "credcat.failures.work.duckdb"
    for stale in (work, work.with_name(work.name + ".wal")):
        stale.unlink(missing_ok=True)
    work.parent.mkdir(parents=True, exist_ok=True)
    if published.exists():
        shutil.copyfile(published, work)
    con = ddl.attach(str(work))
    try:
        if not published.exists():
            ddl.ensure_schema(con)
        ensure_table(con)
        if con.execute(f"SELECT count(*) FROM {TABLE} WHERE run_id = ?", [failure["run_id"]]).fetchone()[0]:
            con.close()
            work.unlink(missing_ok=True)
            return False
        row = {
            "run_id": failure["run_id"],
            "job_name": failure.get("job_name"),
            "failed_at": _ts(failure.get("failed_at")),
            "failed_steps": list(failure.get("failed_steps") or []),
            "assets": list(failure.get("assets") or []),
            "sources": list(failure.get("sources") or []),
            "message": str(failure.get("message") or "")[:4000],
            "recorded_at": datetime.now(UTC),
        }
        con.execute(f"INSERT INTO {TABLE} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
    finally:
        con.close()
    publish(work, published)
    return True


def read_failures(path: Path) -> list[dict[str, Any]]:
    """The recorded failures of a published warehouse, newest first (empty when none)."""
    from warehouse.publish import open_readonly

    con = open_readonly(path)
    try:
        exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'ops' "
                             "AND table_name = 'run_failures'").fetchone()[0]
        if not exists:
            return []
        cur = con.execute(f"SELECT * FROM {TABLE} ORDER BY failed_at DESC")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def _ts(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromtimestamp(float(value), UTC)
