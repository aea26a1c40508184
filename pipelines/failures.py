"""Failed runs, recorded in the warehouse: ``ops.run_failures`` (its DDL: ``warehouse.ddl.RUN_FAILURES``).

The run-failure sensor (pipelines/defs/sensors.py) tags the failed run and requests a run of
``record_run_failure``, whose one op is in the ``duckdb_writer`` pool: it writes like any
other build (its own work copy of the published file, then an atomic publish, both under the
publish lock), so it never races the marts build, in this Dagster instance or any other
process. Recording the same run twice changes nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.runtime import DataPaths
from warehouse import ddl
from warehouse.load import clone_or_copy
from warehouse.publish import work_file

TABLE = f"{ddl.RUN_FAILURES.layer}.{ddl.RUN_FAILURES.name}"
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
    """Create ``ops.run_failures`` in the warehouse behind ``con`` if it is missing."""
    ddl.ensure_run_failures(con)


def record_failure(paths: DataPaths, failure: dict[str, Any]) -> bool:
    """Add ``failure`` to ``ops.run_failures`` of the published warehouse (creating an empty
    warehouse if none exists yet); False when the run was already recorded.

    Under the publish lock from the copy of the published file to the rename: a warehouse run
    publishing meanwhile waits, and is never overwritten by this copy.
    """
    published = paths.warehouse
    with work_file(published) as work:
        if published.exists():
            clone_or_copy(published, work.path)
        con = ddl.attach(str(work.path))
        try:
            if not published.exists():
                ddl.ensure_schema(con)
            ensure_table(con)
            if con.execute(f"SELECT count(*) FROM {TABLE} WHERE run_id = ?", [failure["run_id"]]).fetchone()[0]:
                return False  # the work file is removed on leaving work_file
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
            con.execute(f"INSERT INTO {TABLE} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                        list(row.values()))
        finally:
            con.close()
        work.publish()
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
