"""Normalization benchmark: read_landing + normalize on generator-made landing files, beside
a straightforward pandas implementation of the same fields (normalize.bench_pandas).

::

    python -m normalize.bench --size 1000000            # the issue's figure: <= 60 s, <= 4 GB
    python -m normalize.bench --size 100000 --no-pandas
    python -m normalize.bench --landing DIR             # any folder of <source>/<run_id>/ runs

The landing files come from the demo generator at scale, landed offline through the
spiders' own callbacks (``scrapers.mirror.landing.write_landing``; about 2,220 raw records
per unit of scale), and are cached per (seed, size) under ``.cache/bench/<seed>-<size>/``
(``$CREDCAT_BENCH_CACHE`` moves it); generating them is timed and printed but is no part of
the figures.

Each tool runs in its own process, so each peak RSS (the child's ``ru_maxrss``, interpreter
and imports included) is its own. credcat: ``read_landing`` then ``normalize`` of each source's
run in turn, as the ``staging/<source>`` assets do, timed apart. pandas: ``pd.read_json(lines=True)`` per file,
then the mapping. Afterwards the pandas output is compared with credcat's, field by field, on
every offering both accepted (the share of equal values, nulls equal, numbers within 0.01).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

OFFERINGS_PER_SCALE = 2220  # raw records per unit of the demo generator's scale (seed 7: 10,011 at 4.5)
PROJECT_ROOT = Path(__file__).resolve().parent.parent
RUN_ID = "bench"
COMPARED = ["title", "description", "awarding_body", "credential_type", "audience_level", "language",
            "workload_hours_min", "workload_hours_max", "duration_weeks_min", "duration_weeks_max",
            "price_amount", "price_currency"]


# --- the generated landing, cached ------------------------------------------------------------


def cache_root() -> Path:
    return Path(os.environ.get("CREDCAT_BENCH_CACHE") or PROJECT_ROOT / ".cache" / "bench")


def prepare_cache(root: Path) -> None:
    """The cache is runtime output: a '*' .gitignore keeps the whole folder out of git."""
    root.mkdir(parents=True, exist_ok=True)
    marker = root / ".gitignore"
    if not marker.exists():
        marker.write_text("# benchmark cache (generated landing, work files): never committed\n*\n")


@contextlib.contextmanager
def _samples_beyond_range() -> Iterator[None]:
    """Work-around for the demo generator above ~830k offerings: the RSS feed writer
    (scrapers/mirror/formats/edx_course_feed_rss.py) draws its item ids with
    ``rng.sample(range(10_000, 60_000), k=len(listings))``, which raises once the feed has more
    than 50,000 listings. While generating, a sample larger than its ``range`` is drawn from
    the range extended to twice ``k``; every call that did not raise is unchanged, so smaller
    catalogs stay byte-identical. To remove once the writer widens its own range."""
    original = random.Random.sample

    def sample(self: random.Random, population: Any, k: int, *, counts: Any = None) -> list[Any]:
        if isinstance(population, range) and population.step == 1 and counts is None and k > len(population):
            population = range(population.start, population.start + 2 * k)
        return original(self, population, k, counts=counts)

    random.Random.sample = sample  # type: ignore[method-assign]
    try:
        yield
    finally:
        random.Random.sample = original  # type: ignore[method-assign]


def landing_for(size: int, seed: int = 7, root: Path | None = None, workers: int = 2) -> Path:
    """The folder holding ``landing/<source>/bench/``, ``truth.jsonl`` and ``landing.json`` of
    about ``size`` raw records; generated on first use (``landing.json`` marks it complete)."""
    if size < 1:
        raise ValueError(f"size must be positive, not {size}")
    root = root or cache_root()
    prepare_cache(root)
    folder = root / f"{seed}-{size}"
    folder.mkdir(parents=True, exist_ok=True)
    # One generator per folder: a second caller waits for the first and then reuses its files.
    with (folder.parent / f".{folder.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            from scrapers.mirror.generate import GENERATOR_VERSION
            from scrapers.mirror.landing import write_landing
            from scrapers.registry import load_sources
        except ImportError as exc:  # the generator lives in scrapers/, not a dependency of normalize
            raise SystemExit(f"the demo generator (scrapers.mirror.landing) is not importable: {exc}") from exc
        if (folder / "landing.json").is_file() and (folder / "sources.json").is_file():
            made = json.loads((folder / "landing.json").read_text())
            if made.get("generator_version") == GENERATOR_VERSION:
                return folder
            print(f"{folder} was generated by generator version {made.get('generator_version', 1)}, not "
                  f"{GENERATOR_VERSION}: generating it again", file=sys.stderr, flush=True)
        # Everything derived from an earlier generation goes (re-crawls, dedup inputs, markers).
        for path in folder.iterdir():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        with _samples_beyond_range():
            summary = write_landing(folder, seed=seed, scale=size / OFFERINGS_PER_SCALE, run_id=RUN_ID,
                                    workers=workers)
        kinds = {name: s.provider_kind for name, s in load_sources().items()}
        (folder / "sources.json").write_text(json.dumps({"provider_kinds": kinds}, indent=1))
    print(f"generated {summary['items']:,} raw records at scale {summary['scale']:.2f} in {folder}: "
          f"generate {summary['generate_s']} s, land {summary['land_s']} s", file=sys.stderr, flush=True)
    return folder


def run_dirs(folder: Path, run_id: str = RUN_ID) -> list[Path]:
    """The run folders ``landing/<source>/<run_id>`` of a generated (or any) landing folder."""
    landing = folder / "landing" if (folder / "landing").is_dir() else folder
    dirs = sorted(p for p in landing.glob(f"*/{run_id}") if p.is_dir())
    if not dirs:
        raise SystemExit(f"no landing runs '{run_id}' under {landing}")
    return dirs


def provider_kinds(folder: Path) -> dict[str, str]:
    path = folder / "sources.json"
    if path.is_file():
        return json.loads(path.read_text())["provider_kinds"]
    try:
        from scrapers.registry import load_sources
    except ImportError:
        return {}
    return {name: s.provider_kind for name, s in load_sources().items()}


# --- measurements -----------------------------------------------------------------------------


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def run_credcat(dirs: list[Path], kinds: dict[str, str], out: Path | None = None) -> dict[str, Any]:
    """read_landing + normalize of each run folder in turn, as the ``staging/<source>``
    assets do (one source's run at a time, in one process), timed apart; the compared
    columns of the offerings are written to ``out`` (untimed) if given."""
    from normalize.transforms import normalize, read_landing

    read_s = map_s = write_s = write_cpu = 0.0
    n = offerings = rejects = 0
    parts = _output_parts(out)
    cpu0, t0 = cpu_s(), time.perf_counter()
    for i, run_dir in enumerate(dirs):
        t = time.perf_counter()
        raw, invalid = read_landing([run_dir])
        read_s += time.perf_counter() - t
        t = time.perf_counter()
        result = normalize(raw.lazy(), provider_kinds=kinds)
        map_s += time.perf_counter() - t
        n += raw.height + invalid.height
        offerings += result.offerings.height
        rejects += result.rejects.height + invalid.height
        if parts is not None:  # for the agreement check: written, and its time taken out
            c, t = cpu_s(), time.perf_counter()
            result.offerings.select(["source", "source_key", *COMPARED]).write_parquet(parts / f"part-{i:03d}.parquet")
            write_s, write_cpu = write_s + time.perf_counter() - t, write_cpu + cpu_s() - c
        del raw, invalid, result
    t2, cpu1 = time.perf_counter(), cpu_s()
    wall = t2 - t0 - write_s
    return {"tool": "credcat", "rows": n, "offerings": offerings, "rejects": rejects, "sources": len(dirs),
            "read_s": round(read_s, 2), "normalize_s": round(map_s, 2), "wall_s": round(wall, 2),
            "cpu_s": round(cpu1 - cpu0 - write_cpu, 2), "rows_per_s": round(n / max(wall, 1e-9)),
            "peak_rss_gb": round(peak_rss_gb(), 2)}


def _output_parts(out: Path | None) -> Path | None:
    """``out`` as a folder of Parquet parts (one per source), emptied first."""
    if out is None:
        return None
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("part-*.parquet"):
        old.unlink()
    return out


def agreement(pandas_out: pl.DataFrame, credcat_out: pl.DataFrame) -> dict[str, Any]:
    """Share of equal values per compared field, over the offerings both outputs hold."""
    keys = ["source", "source_key"]
    joined = credcat_out.select(keys + COMPARED).join(
        pandas_out.select(keys + COMPARED), on=keys, how="inner", suffix="_pd"
    )
    fields: dict[str, float] = {}
    for name in COMPARED:
        a, b = pl.col(name), pl.col(f"{name}_pd")
        if credcat_out.schema[name].is_numeric():
            same = (a.is_null() & b.is_null()) | ((a - b.cast(pl.Float64)).abs() <= 0.01)
        else:
            same = (a.is_null() & b.is_null()) | (a == b.cast(pl.String))
        fields[name] = round(float(joined.select(same.fill_null(False).mean()).item() or 0.0) * 100, 2)
    return {"compared_offerings": joined.height,
            "only_credcat": credcat_out.height - joined.height, "only_pandas": pandas_out.height - joined.height,
            "agreement_pct": fields,
            "overall_pct": round(sum(fields.values()) / len(fields), 2) if fields else None}


def run_pandas(dirs: list[Path], compare_with: Path | None = None) -> dict[str, Any]:
    """The pandas baseline, timed; compared (untimed) with credcat's offerings if given."""
    from normalize import bench_pandas

    cpu0, t0 = cpu_s(), time.perf_counter()
    raw = bench_pandas.read_items([d / "items.jsonl" for d in dirs])
    t1 = time.perf_counter()
    out = bench_pandas.normalize_frame(raw)
    t2, cpu1 = time.perf_counter(), cpu_s()
    n = len(raw)
    del raw
    result: dict[str, Any] = {
        "tool": "pandas", "version": __import__("pandas").__version__, "rows": n, "offerings": len(out),
        "read_s": round(t1 - t0, 2), "normalize_s": round(t2 - t1, 2), "wall_s": round(t2 - t0, 2),
        "cpu_s": round(cpu1 - cpu0, 2), "rows_per_s": round(n / max(t2 - t0, 1e-9)),
        "peak_rss_gb": round(peak_rss_gb(), 2),
    }
    if compare_with is not None and any(compare_with.glob("part-*.parquet")):
        frame = pl.from_pandas(out.astype({c: "object" for c in ("price_currency", "credential_type",
                                                                   "audience_level", "language")}))
        result["agreement"] = agreement(frame, pl.read_parquet(compare_with / "part-*.parquet"))
    return result


def max_rss_gb() -> float:
    """The RSS a benchmark child may reach before it is stopped ($CREDCAT_BENCH_MAX_RSS_GB, default
    16): the machine is shared, and a stage that would take it all is a finding, not a crash."""
    return float(os.environ.get("CREDCAT_BENCH_MAX_RSS_GB") or 16)


def _rss_gb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return 0.0


def child(argv: list[str], timeout: float | None = None) -> dict[str, Any]:
    """Run ``python <argv>`` and return the JSON object its last '{' line prints, with the
    child's own peak RSS and CPU (os.wait4) added as ``process_peak_rss_gb``/``process_cpu_s``.
    A child over ``max_rss_gb()`` or ``timeout`` seconds is killed and reported as an error."""
    cap, started = max_rss_gb(), time.monotonic()
    stopped = None
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, *argv], stdout=out, stderr=err, cwd=PROJECT_ROOT, text=True)
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if stopped is None and _rss_gb(proc.pid) > cap:
                    stopped = f"stopped: RSS above {cap} GB ($CREDCAT_BENCH_MAX_RSS_GB)"
                    proc.kill()
                elif stopped is None and timeout is not None and time.monotonic() - started > timeout:
                    stopped = f"stopped: over {timeout} s"
                    proc.kill()
                time.sleep(0.2)
        except BaseException:
            proc.kill()
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    peak, cpu = round(usage.ru_maxrss / 1024**2, 2), round(usage.ru_utime + usage.ru_stime, 2)
    if stopped or proc.returncode or not lines:
        return {"error": stopped or f"exit {proc.returncode}: {(stderr or stdout)[-3000:]}",
                "process_peak_rss_gb": peak, "process_cpu_s": cpu}
    result = json.loads(lines[-1])
    result["process_peak_rss_gb"] = peak
    result["process_cpu_s"] = cpu
    return result


def compare(folder: Path, pandas: bool = True, run_id: str = RUN_ID,
            credcat_out: Path | None = None) -> dict[str, Any]:
    """Both tools on one landing folder, each in its own process; returns both results and the
    speed-up (pandas wall time / credcat wall time)."""
    with tempfile.TemporaryDirectory(prefix="credcat-normalize-bench-") as tmp:
        out = credcat_out or Path(tmp) / "offerings"
        ours = child(["-m", "normalize.bench", "--one", "credcat", "--landing", str(folder), "--run-id", run_id,
                      "--out", str(out)])
        result: dict[str, Any] = {"credcat": ours}
        if pandas:
            theirs = child(["-m", "normalize.bench", "--one", "pandas", "--landing", str(folder),
                            "--run-id", run_id, "--out", str(out)])
            result["pandas"] = theirs
            if "error" not in ours and "error" not in theirs:
                result["speedup"] = round(theirs["wall_s"] / max(ours["wall_s"], 1e-9), 2)
                result["speedup_mapping_only"] = round(theirs["normalize_s"] / max(ours["normalize_s"], 1e-9), 2)
                result["speedup_cpu"] = round(theirs["cpu_s"] / max(ours["cpu_s"], 1e-9), 2)
    return result


def report(result: dict[str, Any]) -> str:
    lines = [f"{'tool':<8} {'rows':>10} {'read s':>8} {'map s':>8} {'wall s':>8} {'CPU s':>8} "
             f"{'rows/s':>10} {'peak GB':>8}"]
    for tool in ("credcat", "pandas"):
        r = result.get(tool)
        if r is None:
            continue
        if "error" in r:
            lines.append(f"{tool:<8} error: {r['error'][-400:]}")
            continue
        lines.append(f"{tool:<8} {r['rows']:>10,} {r['read_s']:>8.1f} {r['normalize_s']:>8.1f} {r['wall_s']:>8.1f} "
                     f"{r['cpu_s']:>8.1f} {r['rows_per_s']:>10,} {r['process_peak_rss_gb']:>8.2f}")
    if "speedup" in result:
        lines.append(f"credcat is {result['speedup']}x faster than pandas "
                     f"({result['speedup_mapping_only']}x on the mapping alone, reading excluded; "
                     f"{result['speedup_cpu']}x less CPU time)")
    agree = result.get("pandas", {}).get("agreement")
    if agree:
        fields = ", ".join(f"{k} {v}%" for k, v in agree["agreement_pct"].items())
        lines.append(f"agreement with credcat on {agree['compared_offerings']:,} offerings: "
                     f"{agree['overall_pct']}% overall ({fields})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m normalize.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, help="raw records to generate (cached)")
    parser.add_argument("--landing", type=Path, help="a landing folder instead of generated data")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--run-id", default=RUN_ID)
    parser.add_argument("--no-pandas", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--one", choices=["credcat", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        dirs = run_dirs(args.landing, args.run_id)
        if args.one == "credcat":
            result = run_credcat(dirs, provider_kinds(args.landing), args.out)
        else:
            result = run_pandas(dirs, args.out)
        print(json.dumps(result), flush=True)
        return 0
    if (args.size is None) == (args.landing is None):
        parser.error("give exactly one of --size or --landing")
    t0 = time.perf_counter()
    folder = args.landing or landing_for(args.size, args.seed)
    prepared = time.perf_counter() - t0
    result = compare(folder, pandas=not args.no_pandas, run_id=args.run_id)
    result["landing"] = str(folder)
    result["landing_ready_s"] = round(prepared, 1)
    ours = result["credcat"]
    if "error" not in ours:
        result["issue_4"] = {"wall_s": ours["wall_s"], "peak_rss_gb": ours["process_peak_rss_gb"],
                             "target": "<= 60 s and <= 4 GB at 1M raw offerings",
                             "met": ours["wall_s"] <= 60 and ours["process_peak_rss_gb"] <= 4}
    print(report(result))
    if "issue_4" in result:
        i4 = result["issue_4"]
        print(f"issue 4 target (1M: <= 60 s, <= 4 GB): {ours['rows']:,} rows in {i4['wall_s']} s, "
              f"peak {i4['peak_rss_gb']} GB -> {'met' if i4['met'] else 'NOT met'} at this size")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0 if all("error" not in r for r in (result.get("credcat", {}), result.get("pandas", {}))) else 1


if __name__ == "__main__":
    raise SystemExit(main())
