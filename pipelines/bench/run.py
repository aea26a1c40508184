"""``python -m pipelines.bench``: every benchmark figure of the pipeline in one run.

For each size (raw offerings of the demo generator, landed offline; cached per seed and size):

1. the full batch, one process per stage: normalize -> resolve -> load + publish -> export;
2. the incremental re-run: 1% of the raw offerings changed (0.5% new price and description,
   0.25% removed, 0.25% new), the same four stages against the full run's published
   warehouse and snapshot; its time as a share of the full batch's;
3. baselines: the normalization benchmark on the same landing files (normalize.bench:
   credcat's read_landing + normalize alone, beside a pandas implementation of the same
   fields, with their agreement) and entity resolution beside Splink (normalize.dedup.bench:
   the generator's offerings of this size and seed, written once by its ``--generate`` child
   and read by one ``--one credcat`` and one ``--one splink`` child, up to ``--splink-max``).
   Beside them, the pipeline's own resolve F1 (the full run's resolve stage on the
   normalized offerings, scored against the generator's truth).

Then the crawl throughput (pipelines.bench.crawl), and per stage the exponent of the
least-squares fit of log(time) on log(rows) over the sizes run (also of CPU time and peak
memory). Every stage records the 1-minute load average at its end: on a shared machine the
figures are only as good as that. Prints the tables, writes them as JSON and Markdown
(``--out``, default .cache/bench/results) and, with ``--doc``, into a document's results
section (docs/benchmarks.md: ``make bench``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from normalize.bench import PROJECT_ROOT, cache_root, child, compare, landing_for, prepare_cache
from pipelines.bench.incremental import changed_landing, index_runs

STAGES = ("normalize", "resolve", "load", "export")
STAGE_LABEL = {"normalize": "normalize", "resolve": "resolve", "load": "load + publish", "export": "export"}
TARGETS = {
    "full_batch_s": 300.0,  # 1M: normalize + resolve + load + publish + export <= 5 min
    "full_batch_peak_gb": 8.0,
    "incremental_share": 0.15,
    "max_exponent": 1.15,
    "normalize_speedup": 5.0,
    "normalize_1m_s": 60.0,  # issue 4
    "normalize_1m_peak_gb": 4.0,
    "resolve_f1": 0.95,  # issue 5
}


# --- fitting ------------------------------------------------------------------------------------


def fit_exponent(ns: list[float], values: list[float]) -> float | None:
    """Slope b of the least-squares line log(value) = a + b log(n): value grows as n^b.
    None with fewer than two distinct positive sizes (or non-positive values)."""
    points = [(math.log(n), math.log(v)) for n, v in zip(ns, values, strict=True)
              if n and v and n > 0 and v > 0]
    if len({x for x, _ in points}) < 2:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx


# --- one size -----------------------------------------------------------------------------------


def _stage(stage: str, state: Path, label: str, folder: Path, run_id: str, snapshot: str) -> dict[str, Any]:
    argv = ["-m", "pipelines.bench.stages", stage, "--state", str(state), "--label", label]
    if stage == "normalize":
        argv += ["--landing", str(folder), "--run-id", run_id]
    elif stage == "resolve":
        argv += ["--truth", str(folder / "truth.jsonl")]
    elif stage == "export":
        argv += ["--snapshot", snapshot]
    started = time.perf_counter()
    result = child(argv)
    result.setdefault("stage", stage)
    result["process_s"] = round(time.perf_counter() - started, 2)
    result["load_avg_1m"] = round(os.getloadavg()[0], 2)  # other work on the machine at the stage's end
    if "error" not in result:
        result["peak_rss_gb"] = result["process_peak_rss_gb"]
        result["rows_per_s"] = round(result["rows"] / max(result["wall_s"], 1e-9))
    return result


def dedup_input(folder: Path, size: int, seed: int) -> dict[str, Any]:
    """The offerings and truth normalize.dedup.bench's tools read (``--data``): generated once
    per (seed, size) by its ``--generate`` child into ``<folder>/dedup-input/`` and reused, so
    that credcat and Splink read the same file and neither process holds generator objects."""
    target = folder / "dedup-input"
    marker = target / "input.json"
    if marker.is_file():
        return {**json.loads(marker.read_text()), "folder": str(target)}
    tmp = folder / "dedup-input.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    made = child(["-m", "normalize.dedup.bench", "--generate", str(tmp), str(size), "--seed", str(seed)])
    if "error" in made:
        shutil.rmtree(tmp, ignore_errors=True)
        return made
    (tmp / "input.json").write_text(json.dumps(made, indent=1))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return {**made, "folder": str(target)}


def _warm(folder: Path, run_id: str) -> float:
    """Read the run's landing files once, untimed: a crawl has just written them, so a
    production run normalizes them from the page cache. (Generated once and reused, they may
    have been evicted by the earlier stages' files: the 1M re-crawl's fingerprint step took
    21.7 s from disk against 5.6 s from memory.) Returns the seconds the read took."""
    start = time.perf_counter()
    for path in sorted((folder / "landing").glob(f"*/{run_id}/*.jsonl")):
        with path.open("rb") as fh:
            while fh.read(1 << 24):
                pass
    return round(time.perf_counter() - start, 2)


def _chain(state: Path, label: str, folder: Path, run_id: str, log: Any) -> list[dict[str, Any]]:
    log(f"  {label:<11} landing read into the page cache in {_warm(folder, run_id)} s (untimed)")
    results = []
    for stage in STAGES:
        result = _stage(stage, state, label, folder, run_id, snapshot=label)
        results.append(result)
        if "error" in result:
            log(f"  {label} {stage}: FAILED {result['error'][-800:]}")
            break
        log(f"  {label:<11} {STAGE_LABEL[stage]:<15} {result['rows']:>10,} rows {result['wall_s']:8.1f} s "
            f"CPU {result['cpu_s']:8.1f} s peak {result['peak_rss_gb']:5.2f} GB load {result['load_avg_1m']:.1f}")
        if result.get("manifest_problems"):
            log(f"  {label} export: the manifest check found {result['manifest_problems']} problem(s): "
                f"{result.get('manifest_problem_examples')}")
    return results


def _total(results: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not results or any("error" in r for r in results) or len(results) < len(STAGES):
        return None
    wall = sum(r["wall_s"] for r in results)
    return {"wall_s": round(wall, 2), "cpu_s": round(sum(r["cpu_s"] for r in results), 2),
            "peak_rss_gb": max(r["peak_rss_gb"] for r in results), "rows": results[0]["rows"],
            "load_avg_1m": max(r["load_avg_1m"] for r in results),
            "rows_per_s": round(results[0]["rows"] / max(wall, 1e-9))}


def run_size(size: int, seed: int, *, pandas: bool, splink: bool, log: Any) -> dict[str, Any]:
    t0 = time.perf_counter()
    folder = landing_for(size, seed)
    landing = json.loads((folder / "landing.json").read_text())
    log(f"size {size:,}: landing {folder} ({landing['items']:,} raw records; generated in "
        f"{landing['generate_s']} s + landed in {landing['land_s']} s, ready in {time.perf_counter() - t0:.1f} s)")
    state = folder / "run"
    if state.exists():
        shutil.rmtree(state)
    out: dict[str, Any] = {"size": size, "raw_records": landing["items"], "landing": str(folder),
                           "generation": {"generate_s": landing["generate_s"], "land_s": landing["land_s"]}}
    # A crawl writes the landing index beside items.jsonl (the landing pipeline); a landing
    # cached before it did gets one here, untimed, so the full run reads what a crawl leaves.
    index_runs(folder, ("bench",))
    out["full"] = _chain(state, "full", folder, "bench", log)
    out["full_total"] = _total(out["full"])
    if out["full_total"]:
        out["incremental_input"] = changed_landing(folder, "bench-incr")
        out["incremental"] = _chain(state, "incremental", folder, "bench-incr", log)
        out["incremental_total"] = _total(out["incremental"])
        if out["incremental_total"]:
            out["incremental_share"] = round(out["incremental_total"]["wall_s"] / out["full_total"]["wall_s"], 3)
            log(f"  full batch {out['full_total']['wall_s']:.1f} s, incremental "
                f"{out['incremental_total']['wall_s']:.1f} s = {out['incremental_share']:.0%} of it")
    out["normalize_baseline"] = compare(folder, pandas=pandas)
    nb = out["normalize_baseline"]
    if "speedup" in nb:
        log(f"  normalize alone: credcat {nb['credcat']['wall_s']} s vs pandas {nb['pandas']['wall_s']} s "
            f"= {nb['speedup']}x; agreement {nb['pandas'].get('agreement', {}).get('overall_pct')}%")
    elif "error" in nb.get("credcat", {}):
        log(f"  normalize.bench failed: {nb['credcat']['error'][-500:]}")
    if splink:
        er_input = dedup_input(folder, size, seed)
        out["resolve_baseline_input"] = er_input
        er = {}
        for tool in ("credcat", "splink"):
            if "error" in er_input:
                er[tool] = {"error": f"input not generated: {er_input['error']}"}
                continue
            er[tool] = child(["-m", "normalize.dedup.bench", "--one", tool, str(size), "--seed", str(seed),
                              "--data", er_input["folder"]])
        out["resolve_baseline"] = er
        log("  entity resolution on the same generated offerings: " + "; ".join(
            f"{t} {r.get('wall_s')} s F1 {r.get('pairwise_f1')}" if "error" not in r
            else f"{t} failed: {str(r['error'])[-300:]}" for t, r in er.items()))
    shutil.rmtree(state, ignore_errors=True)
    return out


# --- the report ---------------------------------------------------------------------------------


def file_system(path: Path, mounts: Path = Path("/proc/self/mounts")) -> str:
    """The type of the file system holding ``path`` (the longest mount point above it in
    Linux's ``mounts``), or "unknown".

    It is part of the machine here: on one with reflinks (XFS, btrfs) the load clones the
    published warehouse instead of copying its GBs (``warehouse.load.clone_or_copy``)."""
    try:
        target = os.path.realpath(path)
        best, kind = "", "unknown"
        for line in mounts.read_text().splitlines():
            fields = line.split()
            if len(fields) < 3:
                continue
            mount = fields[1].replace("\\040", " ")
            inside = target == mount or target.startswith(mount.rstrip("/") + "/")
            if inside and len(mount) >= len(best):
                best, kind = mount, fields[2]
        return kind
    except OSError:
        return "unknown"


def machine(folder: Path | None = None) -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    import duckdb
    import polars

    from normalize.taxonomy.esco import esco_csv_path

    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gb": ram, "os": platform.platform(),
            "python": platform.python_version(), "polars": polars.__version__, "duckdb": duckdb.__version__,
            # Without the ESCO list normalize leaves skills unmapped: less work than a real run.
            "esco_skills": esco_csv_path().is_file(),
            "file_system": file_system(folder) if folder is not None else "unknown"}


def growth(sizes: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Per stage (and the totals): exponents of wall time, CPU time and peak RSS vs rows."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for s in sizes:
        for part in ("full", "incremental"):
            for r in s.get(part) or []:
                if "error" not in r:
                    rows.setdefault(f"{part}:{r['stage']}", []).append(r)
        for part in ("full_total", "incremental_total"):
            if s.get(part):
                rows.setdefault(part, []).append(s[part])
        nb = s.get("normalize_baseline", {})
        for tool in ("credcat", "pandas"):
            r = nb.get(tool)
            if r and "error" not in r:
                rows.setdefault(f"normalize.bench:{tool}", []).append(
                    {**r, "peak_rss_gb": r["process_peak_rss_gb"]})
    out = {}
    for key, rs in rows.items():
        ns = [r["rows"] for r in rs]
        out[key] = {m: (None if (e := fit_exponent(ns, [r[m] for r in rs])) is None else round(e, 3))
                    for m in ("wall_s", "cpu_s", "peak_rss_gb")}
        out[key]["sizes"] = len(rs)
    return out


def acceptance(sizes: list[dict[str, Any]], exps: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The issues' targets, judged at the largest size run (they are stated for 1M)."""
    if not sizes:
        return []
    big = max(sizes, key=lambda s: s["size"])
    n = f"{big['raw_records']:,} raw offerings"
    checks = []

    def check(name: str, value: Any, target: str, met: bool | None) -> None:
        checks.append({"target": name, "value": value, "goal": target, "met": met,
                       "at": n if big["size"] >= 1_000_000 else f"{n} (the goal is stated for 1M)"})

    total = big.get("full_total")
    check("full batch time", None if not total else f"{total['wall_s']:.1f} s", "<= 300 s",
          None if not total else total["wall_s"] <= TARGETS["full_batch_s"])
    check("full batch peak memory", None if not total else f"{total['peak_rss_gb']:.2f} GB", "<= 8 GB",
          None if not total else total["peak_rss_gb"] <= TARGETS["full_batch_peak_gb"])
    share = big.get("incremental_share")
    check("incremental run", None if share is None else f"{share:.0%} of the full batch", "<= 15%",
          None if share is None else share <= TARGETS["incremental_share"])
    stage_exps = {k: v["wall_s"] for k, v in exps.items() if k.startswith("full:") and v["sizes"] >= 2}
    if stage_exps:
        worst = max(stage_exps, key=lambda k: stage_exps[k] if stage_exps[k] is not None else -1)
        check("growth of every stage", f"max exponent {stage_exps[worst]} ({worst.split(':')[1]})", "<= 1.15",
              all(v is not None and v <= TARGETS["max_exponent"] for v in stage_exps.values()))
    else:
        check("growth of every stage", "needs two sizes or more", "<= 1.15", None)
    nb = big.get("normalize_baseline", {})
    speed = nb.get("speedup")
    check("normalization vs pandas", None if speed is None else f"{speed}x (pandas time / credcat time)", ">= 5x",
          None if speed is None else speed >= TARGETS["normalize_speedup"])
    resolve = next((r for r in big.get("full") or [] if r.get("stage") == "resolve" and "error" not in r), None)
    f1 = None if resolve is None else resolve.get("pairwise_f1")
    check("entity resolution F1 (pipeline, pairwise)", None if f1 is None else f"{f1:.3f}", ">= 0.95",
          None if f1 is None else f1 >= TARGETS["resolve_f1"])
    ours = nb.get("credcat")
    if ours and "error" not in ours:
        check("normalization (issue 4)", f"{ours['wall_s']:.1f} s, {ours['process_peak_rss_gb']:.2f} GB",
              "<= 60 s and <= 4 GB",
              ours["wall_s"] <= TARGETS["normalize_1m_s"] and ours["process_peak_rss_gb"] <= TARGETS["normalize_1m_peak_gb"])
    return checks


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _load_during(result: dict[str, Any]) -> str:
    loads = [r["load_avg_1m"] for s in result["sizes"] for part in ("full", "incremental")
             for r in s.get(part) or [] if r.get("load_avg_1m") is not None]
    if not loads:
        return "-"
    return f"{min(loads)}-{max(loads)} (mean {sum(loads) / len(loads):.1f})"


def _pipeline_f1(size: dict[str, Any]) -> str:
    """F1 of the full run's resolve stage (the pipeline's own normalized offerings) vs the truth."""
    stage = next((r for r in size.get("full") or [] if r.get("stage") == "resolve" and "error" not in r), None)
    if not stage or stage.get("pairwise_f1") is None:
        return "-"
    return f"{stage['pairwise_f1']:.3f} / {stage['bcubed_f1']:.3f}"


def _growth_label(key: str) -> str:
    if key in ("full_total", "incremental_total"):
        return f"**{key.split('_')[0]} batch**"
    part, name = key.split(":", 1)
    if part == "normalize.bench":
        return f"normalize alone ({name})"
    return f"{STAGE_LABEL.get(name, name)} ({part})"


def markdown(result: dict[str, Any]) -> str:
    lines = ["| offerings | run | stage | rows | wall s | CPU s | peak RSS GB | rows/s | load (1 min) |",
             "|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    for s in result["sizes"]:
        for part, total in (("full", "full_total"), ("incremental", "incremental_total")):
            for r in s.get(part) or []:
                if "error" in r:
                    lines.append(f"| {s['size']:,} | {part} | {STAGE_LABEL.get(r['stage'], r['stage'])} | "
                                 f"failed | | | | | {_fmt(r.get('load_avg_1m'))} |")
                    continue
                lines.append(f"| {s['size']:,} | {part} | {STAGE_LABEL[r['stage']]} | {r['rows']:,} | "
                             f"{_fmt(r['wall_s'])} | {_fmt(r['cpu_s'])} | {_fmt(r['peak_rss_gb'], 2)} | "
                             f"{r['rows_per_s']:,} | {_fmt(r.get('load_avg_1m'))} |")
            t = s.get(total)
            if t:
                extra = f" ({s['incremental_share']:.0%} of full)" if part == "incremental" and \
                    s.get("incremental_share") is not None else ""
                lines.append(f"| {s['size']:,} | {part} | **total**{extra} | {t['rows']:,} | "
                             f"**{_fmt(t['wall_s'])}** | {_fmt(t['cpu_s'])} | {_fmt(t['peak_rss_gb'], 2)} | "
                             f"{t['rows_per_s']:,} | max {_fmt(t.get('load_avg_1m'))} |")
    out = ["### Stages", "", *lines, ""]

    base = ["| offerings | credcat normalize s (read + map) | peak GB | pandas s (read + map) | peak GB | "
            "speed-up (mapping only; CPU time) | agreement | credcat ER s / F1 | Splink ER s / F1 | "
            "pipeline resolve F1 (pairwise / B-cubed) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in result["sizes"]:
        nb, er = s.get("normalize_baseline", {}), s.get("resolve_baseline", {})
        c, p = nb.get("credcat", {}), nb.get("pandas", {})

        def er_cell(r: dict[str, Any] | None) -> str:
            if not r:
                return "not run"
            if "error" in r:
                return "failed"
            return f"{_fmt(r['wall_s'])} / {r['pairwise_f1']:.3f}"

        agree = p.get("agreement", {}).get("overall_pct")
        ours = (f"{_fmt(c.get('wall_s'))} ({_fmt(c.get('read_s'))} + {_fmt(c.get('normalize_s'))})"
                if c and "error" not in c else "failed")
        base.append(
            f"| {s['size']:,} | {ours} | {_fmt(c.get('process_peak_rss_gb'), 2)} | "
            + (f"{_fmt(p.get('wall_s'))} ({_fmt(p.get('read_s'))} + {_fmt(p.get('normalize_s'))}) | "
               f"{_fmt(p.get('process_peak_rss_gb'), 2)} | "
               + (f"{nb['speedup']}x ({nb['speedup_mapping_only']}x; CPU {nb.get('speedup_cpu')}x)"
                  if "speedup" in nb else "-")
               + f" | {_fmt(agree, 2)}{'%' if agree is not None else ''} |"
               if p and "error" not in p else ("failed | | | |" if p else "not run | | | |"))
            + f" {er_cell(er.get('credcat'))} | {er_cell(er.get('splink'))} | {_pipeline_f1(s)} |")
    out += ["### Baselines (same machine, same run)", "", *base, ""]

    disk = ["| offerings | after the full run: file MB (in use) | after the incremental run: file MB (in use) "
            "| in use added by the incremental run |", "|---:|---:|---:|---:|"]
    for s in result["sizes"]:
        loads = [next((r for r in s.get(part) or [] if r.get("stage") == "load" and "warehouse_mb" in r), None)
                 for part in ("full", "incremental")]
        if loads[0] is None:
            continue
        cells = [("-" if r is None else f"{r['warehouse_mb']:,}"
                  + (f" ({r['warehouse_used_mb']:,})" if "warehouse_used_mb" in r else "")) for r in loads]
        full, incr = loads
        if incr is None:
            added = "-"
        elif "warehouse_used_mb" in full and "warehouse_used_mb" in incr:
            added = f"{incr['warehouse_used_mb'] - full['warehouse_used_mb']:,} MB"
        else:  # results written before the in-use figure: the file's growth
            added = f"{incr['warehouse_mb'] - full['warehouse_mb']:,} MB (file)"
        disk.append(f"| {s['size']:,} | {cells[0]} | {cells[1]} | {added} |")
    if len(disk) > 2:
        out += ["### Warehouse file (the published DuckDB file after each run's load)", "", *disk, ""]

    grow = ["| stage | sizes | time exponent | CPU exponent | peak memory exponent |", "|---|---:|---:|---:|---:|"]
    for key, e in result["growth"].items():
        if e["sizes"] >= 2:
            grow.append(f"| {_growth_label(key)} | {e['sizes']} | {_fmt(e['wall_s'], 2)} | {_fmt(e['cpu_s'], 2)} | "
                        f"{_fmt(e['peak_rss_gb'], 2)} |")
    if len(grow) == 2:
        grow = ["Not fitted: an exponent needs two sizes or more (`--sizes 10000 100000 ...`)."]
    out += ["### Growth (least-squares exponent b of time ~ n^b over the sizes run)", "", *grow, ""]

    if result.get("crawl"):
        crawl = ["| source | mode | settings | pages | items | complete | crawl s | pages/s | CPU s |",
                 "|---|---|---|---:|---:|---|---:|---:|---:|"]
        for r in result["crawl"]:
            if "error" in r:
                crawl.append(f"| {r.get('source', '-')} | failed | | | | | | | |")
                continue
            sets = ", ".join(f"{k}={v}" for k, v in r["settings"].items())
            crawl.append(f"| {r['source']} | {r['mode']} | {sets} | {r['pages']:,} | {r.get('items', 0):,} | "
                         f"{'yes' if r.get('complete') else 'NO'} | {_fmt(r['crawl_s'])} | "
                         f"{_fmt(r['pages_per_s'])} | {_fmt(r['cpu_s'])} |")
        out += [f"### Crawl throughput (local mirror, {result.get('crawl_size', 0):,}-offering catalog)", "",
                *crawl, ""]

    acc = ["| target | goal | measured | at | met |", "|---|---|---|---|---|"]
    for c in result["acceptance"]:
        met = "yes" if c["met"] else ("no" if c["met"] is False else "-")
        acc.append(f"| {c['target']} | {c['goal']} | {_fmt(c['value'])} | {c['at']} | {met} |")
    out += ["### Acceptance", "", *acc, ""]
    m = result["machine"]
    esco = {True: "present", False: "ABSENT (skills left unmapped: less work than a real run)"}.get(
        m.get("esco_skills"), "unknown")
    out += [f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM; {m['os']}; Python {m['python']}, "
            f"Polars {m['polars']}, DuckDB {m['duckdb']}; ESCO skills list {esco}; "
            f"state on {m.get('file_system', 'unknown')}. "
            f"Seed {result['seed']}. Run {result['started_at']} - {result['finished_at']}, "
            f"1-minute load average {result['load_before'][0]} before, {_load_during(result)} at the stages' "
            f"ends, {result['load_after'][0]} after. "
            f"Command: `{result['command']}`.", ""]
    return "\n".join(out)


DOC_START = "<!-- bench:results:start (written by python -m pipelines.bench --doc: edits here are replaced) -->"
DOC_END = "<!-- bench:results:end -->"
DOC_PLACEHOLDER = "RESULTS_PLACEHOLDER"


def fill_doc(path: Path, table: str) -> None:
    """Put ``table`` into ``path`` between the results markers (or where ``RESULTS_PLACEHOLDER``
    stands, the first time), replacing what an earlier run wrote there; the rest is kept."""
    text = path.read_text(encoding="utf-8")
    block = f"{DOC_START}\n\n{table.strip()}\n\n{DOC_END}"
    start = text.find(DOC_START.split(" (")[0])
    end = text.find(DOC_END)
    if start >= 0 and end > start:
        text = text[:start] + block + text[end + len(DOC_END):]
    elif text.count(DOC_PLACEHOLDER) == 1:
        text = text.replace(DOC_PLACEHOLDER, block)
    else:
        raise SystemExit(f"{path}: no place for the results (a '{DOC_START.split(' (')[0]} ...' / '{DOC_END}' "
                         f"pair, or one {DOC_PLACEHOLDER} line)")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _python() -> str:
    """This interpreter as a command: relative to the project when inside it (.venv/bin/python)."""
    exe = Path(sys.executable)
    try:
        return str(exe.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(exe)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--splink-max", type=int, default=100_000,
                        help="largest size Splink runs at (it ran out of memory on bigger blocks)")
    parser.add_argument("--pandas-max", type=int, default=None, help="largest size the pandas baseline runs at")
    parser.add_argument("--crawl-size", type=int, default=20_000, help="offerings of the crawled catalog")
    parser.add_argument("--crawl-source", action="append", dest="crawl_sources")
    parser.add_argument("--no-crawl", action="store_true")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for bench-<time>.json/.md (default .cache/bench/results)")
    parser.add_argument("--doc", type=Path, default=None,
                        help="also write the tables into this Markdown file's results section "
                             f"(between its results markers, or in place of {DOC_PLACEHOLDER})")
    parser.add_argument("--render", type=Path, default=None, metavar="JSON",
                        help="run nothing: print the tables of an earlier run's JSON (and write them to --doc)")
    args = parser.parse_args(argv)
    if args.doc is not None and not args.doc.is_file():
        parser.error(f"--doc {args.doc}: no such file")
    if args.render is not None:
        table = markdown(json.loads(args.render.read_text()))
        print(table)
        if args.doc is not None:
            fill_doc(args.doc, table)
        return 0
    root = cache_root()
    prepare_cache(root)
    out_dir = args.out or root / "results"
    out_dir.mkdir(parents=True, exist_ok=True)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    command = f"{_python()} -m pipelines.bench " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    result: dict[str, Any] = {"command": command.strip(), "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                              "load_before": [round(x, 2) for x in os.getloadavg()], "machine": machine(root),
                              "seed": args.seed, "sizes": []}
    for size in sorted(args.sizes):
        result["sizes"].append(run_size(
            size, args.seed, pandas=args.pandas_max is None or size <= args.pandas_max,
            splink=size <= args.splink_max, log=log))
    if not args.no_crawl:
        argv_crawl = ["-m", "pipelines.bench.crawl", "--size", str(args.crawl_size), "--seed", str(args.seed)]
        for source in args.crawl_sources or []:
            argv_crawl += ["--source", source]
        crawled = child(argv_crawl)
        result["crawl_size"] = args.crawl_size
        result["crawl"] = crawled.get("crawl") or [{"error": crawled.get("error", "no result")}]
        for r in result["crawl"]:
            if "error" not in r:
                log(f"crawl {r['source']} {r['mode']}: {r['pages']} pages in {r['crawl_s']} s = {r['pages_per_s']} pages/s")
    result["growth"] = growth(result["sizes"])
    result["acceptance"] = acceptance(result["sizes"], result["growth"])
    result["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    table = markdown(result)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for name in (f"bench-{stamp}", "latest"):
        (out_dir / f"{name}.json").write_text(json.dumps(result, indent=1, default=str))
        (out_dir / f"{name}.md").write_text(table)
    print(table)
    log(f"written: {out_dir / f'bench-{stamp}.json'} and .md (also latest.json / latest.md)")
    if args.doc is not None:
        fill_doc(args.doc, table)
        log(f"written: the results section of {args.doc}")
    failed = any("error" in r for s in result["sizes"] for part in ("full", "incremental") for r in s.get(part) or [])
    return 1 if failed else 0
