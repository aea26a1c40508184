"""Benchmark of the exports: N synthetic credentials/offerings, then every export timed.

    .venv/bin/python -m warehouse.bench_export --rows 1000000 [--sources 10] [--dir DIR] [--keep]

Builds a published warehouse quickly: ``ensure_schema`` creates the tables, then each marts
table is filled by one ``INSERT ... SELECT ... FROM range(N)`` whose columns are generated from
the table's own DDL types (so the bench follows schema changes), with realistic values where
the exports look at them (titles, ~300-character descriptions, credential types including
learning opportunities, ESCO skills, ISCED-F codes, platforms, prices, durations). One
offering per credential, one current version per offering. The other layers stay empty: the
exports read marts only.

Then runs ``export_snapshot`` twice (the second with 1% of the credentials changed and 0.5%
deleted, so the change feed has work) and prints the wall time of the whole export and of each
step, rows/s, the process CPU time, the size of each output and the peak RSS
(``resource.getrusage``). The linked-data documents are written by a second thread while the
Parquet files and the change feed are written, so the step times add up to more than the wall
time. Target: all exports of 1M in 30 s.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from warehouse import export as export_module
from warehouse import jsonld
from warehouse.ddl import (
    BRIDGE_OFFERING_SKILL,
    BRIDGE_OFFERING_SUBJECT,
    DIM_CREDENTIAL,
    DIM_PROVIDER,
    DIM_SUBJECT,
    FCT_OFFERING,
    OFFERING_VERSIONS,
    PRICE_HISTORY,
    SOURCE_RUNS,
    Table,
    ensure_schema,
    quote_identifier,
)
from warehouse.export import export_snapshot, verify_manifest

_TYPES = ["'ProfessionalCertificate'", "'MicroCredential'", "'Certificate'", "NULL", "'Certification'",
          "'DigitalBadge'", "'MasterDegree'", "'CertificateOfCompletion'"]
_MODALITY = ["'OnlineOnly'", "'InPerson'", "'BlendedDelivery'", "NULL"]
_ISCED = ["'0613'", "'0413'", "'0311'", "'0714'", "'0912'", "'0588'"]
_PLATFORMS = ["'Coursera'", "'edX'", "'FutureLearn'", "'Udacity'", "'OpenLearning'"]


def _pick(options: list[str], modulus_of: str) -> str:
    return f"([{', '.join(options)}])[({modulus_of}) % {len(options)} + 1]"


def _value(table: Table, column: str, n_sources: int) -> str:
    """SQL for one column of row ``i`` (BIGINT) of ``table``."""
    special = {
        "credential_id": "'cred-' || lpad(CAST(i AS VARCHAR), 9, '0')",
        "offering_id": "'off-' || lpad(CAST(i AS VARCHAR), 9, '0')",
        "source": f"'source_' || CAST(i % {n_sources} AS VARCHAR)",
        "source_key": "'k' || CAST(i AS VARCHAR)",
        "title": "'Applied ' || " + _pick(["'Python'", "'Data Science'", "'Nursing Care'", "'Cloud Security'",
                                            "'Project Management'"], "i") + " || ' ' || CAST(i AS VARCHAR)",
        "description": "'Learn ' || repeat('the essentials of the field, with hands-on projects and quizzes. ', 5) "
                       "|| CAST(i AS VARCHAR)",
        "credential_type": _pick(_TYPES, "i"),
        "modality": _pick(_MODALITY, "i // 3"),
        "language": _pick(["'en'", "'de'", "'fr'", "'es'"], "i // 7"),
        "country": _pick(["'US'", "'DE'", "'FR'", "'GB'"], "i // 7"),
        "awarding_body": "'University ' || CAST(i % 5000 AS VARCHAR)",
        "platform": _pick(_PLATFORMS, "i"),
        "platforms": f"[{_pick(_PLATFORMS, 'i')}]",
        "isced_codes": f"[{_pick(_ISCED, 'i')}]",
        "isced_confidence": "[0.85]",
        "isced_code": _pick(_ISCED, "i"),
        "skills": "['http://data.europa.eu/esco/skill/' || md5(CAST(i % 13939 AS VARCHAR)), "
                  "'http://data.europa.eu/esco/skill/' || md5(CAST((i + 7) % 13939 AS VARCHAR))]",
        "skill_uri": "'http://data.europa.eu/esco/skill/' || md5(CAST(i % 13939 AS VARCHAR))",
        "audience_level": _pick(["'BeginnerLevel'", "'IntermediateLevel'", "'AdvancedLevel'", "NULL"], "i"),
        "sources": f"['source_' || CAST(i % {n_sources} AS VARCHAR)]",
        "member_offering_ids": "['off-' || lpad(CAST(i AS VARCHAR), 9, '0')]",
        "field_sources": "'{\"title\":\"off-' || CAST(i AS VARCHAR) || '\"}'",
        "is_free": "i % 10 = 0",
        "price_usd_min": "CAST(49 + i % 200 AS DOUBLE)",
        "price_usd_max": "CAST(49 + i % 200 AS DOUBLE)",
        "duration_weeks_min": "CASE WHEN i % 5 = 0 THEN NULL ELSE CAST(4 + i % 8 AS DOUBLE) END",
        "duration_weeks_max": "CASE WHEN i % 5 = 0 THEN NULL ELSE CAST(4 + i % 8 + (i % 2) * 4 AS DOUBLE) END",
        "valid_to": "NULL",
        "is_current": "true",
        "n_offerings": "1",
        "n_sources": "1",
        "status": "'active'",
        "prices": "[{'amount': 49.0, 'currency': 'USD', 'cost_type': 'Tuition'}]",
        "provider_id": "md5(CAST(i AS VARCHAR))[:16]",
        "name": "'University ' || CAST(i AS VARCHAR)",
    }
    if column in special:
        return special[column]
    dtype = table.column_type(column)
    if dtype in ("VARCHAR", "JSON"):
        return f"'{column}-' || CAST(i % 97 AS VARCHAR)"
    if dtype in ("DOUBLE", "FLOAT"):
        return "CAST(i % 40 AS DOUBLE)"
    if dtype in ("BIGINT", "INTEGER", "SMALLINT"):
        return "i % 8"
    if dtype == "BOOLEAN":
        return "i % 2 = 0"
    if dtype.startswith("TIMESTAMP"):
        return "TIMESTAMPTZ '2025-06-01 00:00:00+00' + to_seconds(i % 86400)"
    if dtype == "DATE":
        return "DATE '2025-09-01'"
    if dtype == "VARCHAR[]":
        return f"['{column}-' || CAST(i % 11 AS VARCHAR)]"
    if dtype == "DATE[]":
        return "[DATE '2025-09-01']"
    if dtype == "DOUBLE[]":
        return "[0.9, 0.75]"
    return "NULL"


def _fill(con: duckdb.DuckDBPyConnection, table: Table, n: int, n_sources: int) -> None:
    columns = list(table.columns.names())
    values = ", ".join(f"{_value(table, c, n_sources)}" for c in columns)
    names = ", ".join(quote_identifier(c) for c in columns)
    con.execute(f"INSERT INTO {table.qualified} ({names}) SELECT {values} FROM range({n}) t(i)").fetchall()


def build_warehouse(path: Path, n: int, n_sources: int = 10) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute("SET TimeZone = 'UTC'").fetchall()
        ensure_schema(con)
        for table in (DIM_CREDENTIAL, FCT_OFFERING, OFFERING_VERSIONS, PRICE_HISTORY,
                      BRIDGE_OFFERING_SKILL, BRIDGE_OFFERING_SUBJECT):
            _fill(con, table, n, n_sources)
        _fill(con, DIM_PROVIDER, max(n // 200, 1), n_sources)
        _fill(con, SOURCE_RUNS, n_sources, n_sources)
        con.execute(f"INSERT INTO {DIM_SUBJECT.qualified} VALUES ('0613', 'Software and applications "
                    "development and analysis', 'detailed', '06')").fetchall()
    finally:
        con.close()


def change_some(path: Path, n: int) -> None:
    """1% of the credentials get a new title, 0.5% disappear."""
    con = duckdb.connect(str(path))
    try:
        con.execute(f"UPDATE {DIM_CREDENTIAL.qualified} SET title = title || ' (2nd edition)' "
                    "WHERE hash(credential_id) % 100 = 0").fetchall()
        con.execute(f"DELETE FROM {DIM_CREDENTIAL.qualified} WHERE hash(credential_id) % 200 = 1").fetchall()
    finally:
        con.close()


_LINKED = "ctdl json-ld + open badges"
_ORGS = "linked data: organizations"
_SECOND_THREAD = (_ORGS, _LINKED)


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Timer:
    """Wraps the export steps to time each (monkeypatched for the bench only)."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}

    def wrap(self, module, name: str, label: str) -> None:
        original = getattr(module, name)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.times[label] = self.times.get(label, 0.0) + time.perf_counter() - start

        setattr(module, name, timed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--sources", type=int, default=10)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the folder (default: delete it)")
    args = parser.parse_args(argv)
    root = args.dir or Path(tempfile.mkdtemp(prefix="credcat-bench-export-"))
    root.mkdir(parents=True, exist_ok=True)
    db, exports = root / "bench.duckdb", root / "exports"
    try:
        start = time.perf_counter()
        build_warehouse(db, args.rows, args.sources)
        print(f"setup: {args.rows:,} credentials/offerings/versions in {time.perf_counter() - start:.1f} s")

        timer = _Timer()
        timer.wrap(export_module, "_export_entity", "parquet")
        timer.wrap(export_module, "_export_changes", "change feed")
        timer.wrap(jsonld, "prepare", _ORGS)
        timer.wrap(jsonld, "export_documents", _LINKED)
        for label, mutate in (("snapshot 1", None), ("snapshot 2", change_some)):
            if mutate:
                mutate(db, args.rows)
            timer.times.clear()
            start, cpu = time.perf_counter(), _cpu_s()
            manifest = export_snapshot(db, exports, label.replace(" ", ""))
            wall = time.perf_counter() - start
            print(f"\n{label}: all exports in {wall:.1f} s ({args.rows / wall:,.0f} credentials/s), "
                  f"CPU {_cpu_s() - cpu:.1f} s, peak RSS {_peak_rss_mb():,.0f} MB; changes {manifest['changes']}")
            for step, seconds in timer.times.items():
                print(f"  {step:<28} {seconds:6.1f} s")
            rest = wall - sum(v for k, v in timer.times.items() if k not in _SECOND_THREAD)
            print(f"  {'rest (waits for 2nd thread)':<28} {rest:6.1f} s   (linked data: second thread, beside the others)")
            sizes: dict[str, int] = {}
            for entry in manifest["files"] + manifest["documents"]:
                key = entry.get("entity") or entry["path"]
                sizes[key] = sizes.get(key, 0) + entry["bytes"]
            print("  sizes: " + ", ".join(f"{k} {v / 1e6:,.0f} MB" for k, v in sizes.items() if v > 1e6))
        start = time.perf_counter()
        problems = verify_manifest(exports / "snapshot2")
        print(f"\nverify_manifest: {len(problems)} problems in {time.perf_counter() - start:.1f} s")
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
