"""``python -m scrapers.reliability`` (``make reliability``): every fault, end to end.

Each scenario injects one fault (``scrapers.mirror.faults``) into the demo mirror of one
source and runs what production runs: a real ``scrapy crawl`` subprocess
(``scrapers.run.crawl``), the normalizer (``normalize.transforms``), entity resolution and a
warehouse load + publish (``warehouse.load.build``, ``warehouse.publish.publish``) on top of
a baseline warehouse built from fault-free crawls, all in a temporary folder.

Nothing here is asserted by hand: every figure comes from reconciling independent counts.

- served: the records of every page the mirror delivered whole (status 200, full body), read
  from the served files by a small reader per format that shares no code with the spiders;
- landed: the source keys in the crawl's ``items.jsonl`` and ``invalid.jsonl``;
- raw = offerings + rejects after normalization, key by key;
- kept: the source's offerings current in the warehouse before the faulty run that are
  still current after it (the catalog did not change, so a closed offering is a lost one).

lost = (served not landed) + (landed neither offering nor reject) + (offerings closed).
A scenario survives when the crawl process ended normally, its ``complete`` flag is what
the fault should give (a transient fault: complete, the whole catalog read and no version
changed; a permanent one: incomplete, so nothing is closed), the stats name the fault, the
warehouse was published and opens read-only, and it lost nothing. Exit status 1 otherwise.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

SOURCES = ("opencourse_api", "learnwave_feed", "northfield_university")
SCALE = 0.3  # opencourse_api: 3 API pages; learnwave_feed: 2 feed pages; northfield: 45 program pages
SEED = 7
# Small caps and waits so that faults play out in seconds (production: settings.py).
SETTINGS = {
    "CREDCAT_BACKOFF_BASE": "0.05",
    "DOWNLOAD_TIMEOUT": "2",
    "DOWNLOAD_MAXSIZE": str(1 << 20),
    "DOWNLOAD_WARNSIZE": str(1 << 19),
    "RETRY_TIMES": "4",
}
OC_PAGE = "/api/courses/v1/courses/?page={n}&page_size=50"
LW_PAGE = "/api/v2/report/course-feed/rss?page={n}"


# --- what was served, read without the spiders ----------------------------------------------------


def _opencourse_keys(path: str, body: bytes) -> set[str]:
    if "/api/courses/v1/courses/" not in path:
        return set()
    return {str(r["id"]) for r in json.loads(body).get("results", [])}


def _learnwave_keys(path: str, body: bytes) -> set[str]:
    text = body.decode("utf-8")
    return {html.unescape(k.strip()) for k in re.findall(r"<course:id>(.*?)</course:id>", text, re.S)}


def _northfield_keys(path: str, body: bytes) -> set[str]:
    return {path} if re.fullmatch(r"/northfield_university/programs/[^/?#]+/", path) else set()


RECORD_READERS: dict[str, Callable[[str, bytes], set[str]]] = {
    "opencourse_api": _opencourse_keys,
    "learnwave_feed": _learnwave_keys,
    "northfield_university": _northfield_keys,
}


def served_keys(source: str, site: Path, routes: dict[str, dict[str, str]], events: list[dict[str, Any]]) -> set[str]:
    """Source keys of the records on every page of ``source`` the mirror delivered whole."""
    keys: set[str] = set()
    for event in events:
        path = unquote(event["path"])
        if event["status"] != 200 or not event["delivered"] or not path.startswith(f"/{source}/"):
            continue
        route = routes.get(path)
        if route is not None:
            keys |= RECORD_READERS[source](path, (site / route["file"]).read_bytes())
    return keys


# --- scenarios --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    source: str  # the source under fault
    plan: dict[str, list[dict[str, Any]]]  # per-source fault plan (scrapers.mirror.faults)
    complete: bool  # what its crawl must report
    evidence: tuple[str, ...] = ()  # stats that must be > 0: "page_failures.oversize", "throttled" ...
    also: tuple[str, ...] = ()  # other sources crawled (fault-free) in the same run
    settings: dict[str, str] = field(default_factory=dict)
    check: Callable[[Outcome], list[str]] | None = None


def _oc(n: int) -> str:
    return OC_PAGE.format(n=n)


def _waited_for_retry_after(seconds: float) -> Callable[[Outcome], list[str]]:
    def check(o: Outcome) -> list[str]:
        hits = [e for e in o.events if unquote(e["path"]) == f"/opencourse_api{_oc(2)}"]
        if len(hits) < 2 or hits[0]["status"] != 429:
            return [f"expected a 429 then a retry, saw {[e['status'] for e in hits]}"]
        waited = hits[1]["time"] - hits[0]["time"]
        return [] if waited >= seconds * 0.95 else [f"retried after {waited:.2f} s, Retry-After said {seconds} s"]
    return check


def _never_offsite(o: Outcome) -> list[str]:
    leaked = [e for e in o.events if not e["host"].startswith("127.0.0.1")]
    return [f"followed off the allowed domain: {leaked[0]['host']}{leaked[0]['path']}"] if leaked else []


def _never_requested(rel: str) -> Callable[[Outcome], list[str]]:
    def check(o: Outcome) -> list[str]:
        hit = [e for e in o.events if unquote(e["path"]) == f"/{o.scenario.source}{rel}"]
        return [f"{rel} was requested although robots.txt disallows it"] if hit else []
    return check


def _each_page_once(o: Outcome) -> list[str]:
    # Delivered pages: a request retried after a timeout is not the loop coming back.
    pages = Counter(unquote(e["path"]) for e in o.events
                    if "/api/courses/v1/courses/" in e["path"] and e["status"] == 200 and e["delivered"])
    again = {p: n for p, n in pages.items() if n > 1}
    return [f"pages requested more than once: {again}"] if again else []


def _others_published(o: Outcome) -> list[str]:
    problems = []
    for source in o.scenario.also:
        if not o.stats[source].get("complete"):
            problems.append(f"{source} (fault-free) did not complete")
        if o.warehouse.get("runs", {}).get(source) is not True:
            problems.append(f"{source}'s complete run is not in the published warehouse")
    return problems


def scenarios() -> list[Scenario]:
    p2, p3 = _oc(2), _oc(3)
    oc = "opencourse_api"
    return [
        Scenario("429 with Retry-After: 2", oc,
                 {oc: [{"path": p2, "kind": "status", "status": 429, "headers": {"Retry-After": "2"}}]},
                 True, ("throttled",), check=_waited_for_retry_after(2.0)),
        Scenario("5xx burst (3 x 503)", oc, {oc: [{"path": p2, "kind": "status", "status": 503, "times": 3}]},
                 True, ("retry_reasons.503 Service Unavailable",)),
        Scenario("5xx for good (500 on every try)", oc,
                 {oc: [{"path": p2, "kind": "status", "status": 500, "times": None}]}, False,
                 ("page_failures.http_500",)),
        Scenario("timeout (answer after 5 s, timeout 2 s)", oc, {oc: [{"path": p2, "kind": "delay", "seconds": 5}]},
                 True, ("retry_reasons.DownloadTimeoutError",)),
        Scenario("connection reset (3 x RST)", oc, {oc: [{"path": p2, "kind": "reset", "times": 3}]}, True,
                 ("retries",)),
        Scenario("truncated body, Content-Length of the whole", oc,
                 {oc: [{"path": p2, "kind": "truncate", "fraction": 0.5}]}, True,
                 ("retry_reasons.ResponseDataLossError",)),
        Scenario("truncated body, consistent length (for good)", oc,
                 {oc: [{"path": p2, "kind": "truncate", "fraction": 0.5, "keep_length": False, "times": None}]},
                 False, ("page_defects.invalid_json_body",)),
        Scenario("Content-Type missing", oc, {oc: [{"path": p2, "kind": "content_type", "content_type": None}]},
                 True, ("content_fixes.content_type_missing",)),
        Scenario("Content-Type wrong (image/png)", oc,
                 {oc: [{"path": p2, "kind": "content_type", "content_type": "image/png"}]}, True,
                 ("content_fixes.content_type_not_text",)),
        Scenario("charset wrong (UTF-8 sent as ISO-8859-1)", oc,
                 {oc: [{"path": p2, "kind": "content_type", "content_type": "application/json; charset=iso-8859-1"}]},
                 True, ("content_fixes.utf8_declared_single_byte",)),
        Scenario("charset wrong (windows-1252 sent as UTF-8)", oc,
                 {oc: [{"path": p2, "kind": "transcode", "encoding": "cp1252", "declare": "utf-8"}]}, True,
                 ("content_fixes.single_byte_declared_utf8",)),
        Scenario("oversize body (2 MB, cap 1 MB, declared)", oc,
                 {oc: [{"path": p2, "kind": "oversize", "bytes": 2_000_000, "times": None}]}, False,
                 ("page_failures.oversize",)),
        Scenario("oversize body (2 MB, cap 1 MB, streamed)", oc,
                 {oc: [{"path": p2, "kind": "oversize", "bytes": 2_000_000, "declare_length": False,
                        "times": None}]}, False, ("page_failures.oversize",)),
        Scenario("gzip bomb (64 MB inflated, cap 1 MB)", oc,
                 {oc: [{"path": p2, "kind": "gzip_bomb", "bytes": 64_000_000, "times": None}]}, False,
                 ("page_failures.decompression_bomb",)),
        Scenario("redirect loop (A -> B -> A)", oc,
                 {oc: [{"path": p2, "kind": "redirect", "location": "{{BASE}}/opencourse_api/moved", "times": None},
                       {"path": "/moved", "kind": "redirect", "location": "{{BASE}}/opencourse_api" + p2,
                        "times": None}]},
                 False, ("page_failures.redirect_loop", "redirect_loops")),
        Scenario("redirect off the allowed domains", oc,
                 {oc: [{"path": p2, "kind": "redirect", "location": "{{OFFSITE}}/opencourse_api" + p2,
                        "times": None}]},
                 False, ("page_failures.offsite_redirect", "offsite_redirects"), check=_never_offsite),
        Scenario("pagination that cycles (last next -> first)", oc,
                 {oc: [{"path": p3, "kind": "rewrite", "find": '"next": null',
                        "replace": '"next": "{{BASE}}/opencourse_api' + _oc(1) + '"', "times": None}]},
                 True, ("page_defects.pagination_loop",), check=_each_page_once),
        Scenario("robots.txt disallows page 3", oc,
                 {"*": [{"path": "/robots.txt", "kind": "rewrite", "find": "Disallow: /private/",
                         "replace": "Disallow: /private/\nDisallow: /opencourse_api/api/courses/v1/courses/?page=3",
                         "times": None}]},
                 False, ("page_failures.robots_disallowed", "robots_forbidden"), check=_never_requested(p3)),
        Scenario("source down entirely (503 everywhere)", oc,
                 {oc: [{"path": "/", "match": "prefix", "kind": "status", "status": 503, "times": None}]},
                 False, ("page_failures.http_503",), also=("learnwave_feed",), check=_others_published),
        Scenario("feed as text/html; charset=iso-8859-1", "learnwave_feed",
                 {"learnwave_feed": [{"path": LW_PAGE.format(n=0), "kind": "content_type",
                                      "content_type": "text/html; charset=iso-8859-1"}]},
                 True, ("content_fixes.content_type_html_for_xml", "content_fixes.utf8_declared_single_byte")),
        Scenario("feed without Content-Type", "learnwave_feed",
                 {"learnwave_feed": [{"path": LW_PAGE.format(n=1), "kind": "content_type", "content_type": None}]},
                 True, ("content_fixes.content_type_missing",)),
        Scenario("HTML pages as application/octet-stream", "northfield_university",
                 {"northfield_university": [{"path": "/programs/", "match": "prefix", "kind": "content_type",
                                             "content_type": "application/octet-stream", "times": None}]},
                 True, ("content_fixes.content_type_generic",)),
        Scenario("sitemap as gzip bomb", "northfield_university",
                 {"northfield_university": [{"path": "/sitemap.xml", "kind": "gzip_bomb", "bytes": 64_000_000,
                                             "times": None}]},
                 False, ("page_failures.decompression_bomb",)),
    ]


# --- running one --------------------------------------------------------------------------------------


@dataclass
class Outcome:
    scenario: Scenario
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    served: int = 0
    landed: int = 0
    raw: int = 0
    offerings: int = 0
    rejects: int = 0
    reject_reasons: Counter[str] = field(default_factory=Counter)
    warehouse: dict[str, Any] = field(default_factory=dict)
    lost: dict[str, int] = field(default_factory=lambda: {"crawl": 0, "normalize": 0, "warehouse": 0})
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def survived(self) -> bool:
        return not self.problems and sum(self.lost.values()) == 0


@dataclass
class Baseline:
    site: Path
    routes: dict[str, dict[str, str]]
    warehouse: Path
    run_time: datetime
    keys: dict[str, set[str]]  # every record key of each source, as served fault-free
    current: dict[str, set[str]]  # current offering ids per source in the baseline warehouse
    outcome: Outcome


def _jsonl_keys(path: Path) -> list[str | None]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.strip():
            try:
                out.append(json.loads(line).get("source_key"))
            except ValueError:
                out.append(None)
    return out


def _stat(stats: dict[str, Any], dotted: str) -> float:
    value: Any = stats
    for part in dotted.split(".", 1) if "." in dotted else [dotted]:
        value = value.get(part, 0) if isinstance(value, dict) else 0
    return float(value or 0)


def _crawl_and_stage(scenario: Scenario, site: Path, routes: dict[str, dict[str, str]], work: Path,
                     run_id: str, outcome: Outcome) -> dict[str, dict[str, Any]]:
    """Serve with the scenario's faults, crawl each source, normalize; fill crawl-level figures."""
    import polars as pl

    from normalize.transforms import normalize, read_landing
    from scrapers.mirror.faults import plan_faults
    from scrapers.mirror.server import RunningServer
    from scrapers.registry import load_sources
    from scrapers.run import crawl

    registry = load_sources()
    sources = (scenario.source, *scenario.also)
    staged: dict[str, dict[str, Any]] = {}
    with RunningServer(site, faults=plan_faults(scenario.plan), generated_faults=False) as server:
        for source in sources:
            outcome.stats[source] = crawl(registry[source], run_id, work / "landing", mirror_url=server.base_url,
                                          extra_settings={**SETTINGS, **scenario.settings}, timeout=300)
        deadline = time.monotonic() + 10  # handlers still sleeping on a delay fault settle their answer
        while not all(e["done"] for e in server.events) and time.monotonic() < deadline:
            time.sleep(0.05)
        outcome.events = server.events
    kinds = {name: s.provider_kind for name, s in registry.items()}
    for source in sources:
        run_dir = work / "landing" / source / run_id
        stats = outcome.stats[source]
        if stats.get("finish_reason") == "crashed" or stats.get("exit_code") not in (None, 0):
            outcome.problems.append(f"{source}: crawl process failed ({stats.get('exit_code')}): "
                                    f"{str(stats.get('log_tail', ''))[-300:]}")
        served = served_keys(source, site, routes, outcome.events)
        landed_list = _jsonl_keys(run_dir / "items.jsonl") + _jsonl_keys(run_dir / "invalid.jsonl")
        landed = {k for k in landed_list if k is not None}
        raw, invalid = read_landing([run_dir])
        result = normalize(raw.lazy(), provider_kinds=kinds)
        rejects = pl.concat([invalid, result.rejects], how="vertical")
        n_raw = raw.height + invalid.height
        accounted = set(result.offerings["source_key"].to_list()) | set(rejects["source_key"].drop_nulls().to_list())
        outcome.served += len(served)
        outcome.landed += len(landed_list)
        outcome.raw += n_raw
        outcome.offerings += result.offerings.height
        outcome.rejects += rejects.height
        outcome.reject_reasons.update(rejects["reason"].to_list())
        outcome.lost["crawl"] += len(served - landed)
        outcome.lost["normalize"] += abs(n_raw - result.offerings.height - rejects.height) + len(landed - accounted)
        staged[source] = {"raw": raw, "offerings": result.offerings, "rejects": rejects, "stats": stats,
                          "served": served}
    return staged


def load_run(staged: dict[str, dict[str, Any]], published: Path | None, target: Path, run_time: datetime) -> dict[str, Any]:
    """Resolve, build on top of ``published`` (a copy, at ``target``) and publish there."""
    import polars as pl

    from normalize.dedup import build_credentials, resolve_report
    from normalize.dedup.settings import load_settings
    from scrapers.registry import load_sources
    from warehouse.load import RunInputs, build
    from warehouse.publish import open_readonly, publish

    target.parent.mkdir(parents=True, exist_ok=True)
    if published is not None:
        shutil.copyfile(published, target)
    previous = None
    if target.exists():
        con = open_readonly(target)
        try:
            previous = con.sql("select offering_id, credential_id, match_score "
                               "from intermediate.int_offering_links").pl()
        finally:
            con.close()
    settings = load_settings(source_kinds={n: s.provider_kind for n, s in load_sources().items()})
    offerings = pl.concat([s["offerings"] for s in staged.values()], how="vertical")
    links = resolve_report(offerings, settings, previous).links
    credentials = build_credentials(offerings, links, settings)
    runs = pl.DataFrame([
        {"source": name, "run_id": s["stats"]["run_id"], "started_at": s["stats"].get("started_at"),
         "finished_at": s["stats"].get("finished_at"), "complete": bool(s["stats"].get("complete")),
         "pages": int(s["stats"].get("pages", 0)), "items": int(s["stats"].get("items", 0)),
         "rejects": s["rejects"].height, "offerings": s["offerings"].height}
        for name, s in staged.items()
    ]).with_columns(pl.col("started_at", "finished_at").str.to_datetime(time_zone="UTC", strict=False))
    inputs = RunInputs(run_started_at=run_time, raw=pl.concat([s["raw"] for s in staged.values()]),
                       offerings=offerings, rejects=pl.concat([s["rejects"] for s in staged.values()]),
                       links=links, credentials=credentials, source_runs=runs)
    work = target.with_name(target.stem + ".work.duckdb")
    stats = build(work, target if target.exists() else None, inputs)
    publish(work, target)
    return stats


def _current(path: Path) -> dict[str, set[str]]:
    from warehouse.publish import open_readonly

    con = open_readonly(path)
    try:
        rows = con.execute("select source, offering_id from marts.offering_versions where is_current").fetchall()
    finally:
        con.close()
    out: dict[str, set[str]] = {}
    for source, oid in rows:
        out.setdefault(source, set()).add(oid)
    return out


def run_baseline(work: Path) -> Baseline:
    from scrapers.mirror.generate import generate

    site = work / "site"
    generate(site, seed=SEED, scale=SCALE, sources=list(SOURCES))
    routes = json.loads((site / "routes.json").read_text())
    clean = Scenario("no fault (baseline)", SOURCES[0], {}, True, also=SOURCES[1:])
    outcome = Outcome(clean)
    started = time.monotonic()
    staged = _crawl_and_stage(clean, site, routes, work / "baseline", "baseline", outcome)
    run_time = datetime.now(UTC).replace(microsecond=0)
    published = work / "baseline" / "warehouse" / "credcat.duckdb"
    load_run(staged, None, published, run_time)
    current = _current(published)
    for source, s in staged.items():
        if not s["stats"].get("complete"):
            outcome.problems.append(f"{source}: the fault-free crawl is not complete")
        if not s["served"]:
            outcome.problems.append(f"{source}: nothing served")
    outcome.warehouse = {"kept": sum(len(v) for v in current.values()), "of": sum(len(v) for v in current.values()),
                         "changed": 0}
    outcome.seconds = time.monotonic() - started
    return Baseline(site, routes, published, run_time, {k: v["served"] for k, v in staged.items()}, current, outcome)


def run_scenario(scenario: Scenario, base: Baseline, work: Path, index: int) -> Outcome:
    outcome = Outcome(scenario)
    started = time.monotonic()
    slug = f"s{index:02d}"
    try:
        staged = _crawl_and_stage(scenario, base.site, base.routes, work / slug, slug, outcome)
        run_time = base.run_time + timedelta(hours=index + 1)
        target = work / slug / "warehouse" / "credcat.duckdb"
        load_run(staged, base.warehouse, target, run_time)
        current = _current(target)
        _judge(scenario, base, staged, current, target, run_time, outcome)
    except Exception as exc:  # a scenario that breaks the harness is a failed scenario, reported
        outcome.problems.append(f"{type(exc).__name__}: {exc}")
    outcome.seconds = time.monotonic() - started
    return outcome


def _judge(scenario: Scenario, base: Baseline, staged: dict[str, dict[str, Any]], current: dict[str, set[str]],
           published: Path, run_time: datetime, outcome: Outcome) -> None:
    from warehouse.publish import open_readonly

    src = scenario.source
    stats = staged[src]["stats"]
    if bool(stats.get("complete")) != scenario.complete:
        outcome.problems.append(f"crawl complete={stats.get('complete')}, expected {scenario.complete} "
                                f"(failed: {stats.get('failed_urls', [])[:2]})")
    for name in scenario.evidence:
        if _stat(stats, name) <= 0:
            outcome.problems.append(f"stats do not show {name}")
    if scenario.complete and staged[src]["served"] != base.keys[src]:
        missing = len(base.keys[src] - staged[src]["served"])
        outcome.problems.append(f"a transient fault, yet {missing} records of the catalog were not served/read")
    con = open_readonly(published)  # the published file opens read-only and answers
    try:
        changed = dict(con.execute(
            "select source, count(*) from marts.offering_versions where valid_from = ? group by source",
            [run_time]).fetchall())
        runs = dict(con.execute("select source, complete from marts.source_runs where run_id = ?",
                                [stats["run_id"]]).fetchall())
    finally:
        con.close()
    kept = sum(len(base.current.get(s, set()) & current.get(s, set())) for s in staged)
    of = sum(len(base.current.get(s, set())) for s in staged)
    outcome.lost["warehouse"] += of - kept
    outcome.warehouse = {"kept": kept, "of": of, "changed": sum(changed.values()), "runs": runs}
    if scenario.complete and changed.get(src, 0):
        outcome.problems.append(f"{changed[src]} offerings changed although the catalog did not (content damaged?)")
    if scenario.check is not None:
        outcome.problems.extend(scenario.check(outcome))


# --- the report ----------------------------------------------------------------------------------------


def _evidence(o: Outcome) -> str:
    s = o.stats.get(o.scenario.source, {})
    parts = []
    if s.get("retries"):
        parts.append(f"{s['retries']} retries")
    if s.get("throttled"):
        parts.append(f"{s['throttled']} throttled")
    for group in ("page_failures", "content_fixes"):
        parts += [f"{k}" + (f" x{v}" if v > 1 else "") for k, v in (s.get(group) or {}).items()]
    parts += [k for k in (s.get("page_defects") or {}) if k in ("pagination_loop", "invalid_json_body")]
    return ", ".join(parts) or "-"


def report(outcomes: list[Outcome], console: Any | None = None) -> int:
    from rich.console import Console
    from rich.table import Table

    console = console or Console(width=200)
    table = Table(title="credcat reliability: faults injected into the demo mirror, run end to end")
    for col in ("fault", "source", "crawl", "what the stats recorded", "served", "landed", "offerings",
                "rejects", "kept in warehouse", "lost", "survived"):
        table.add_column(col, overflow="fold")
    for o in outcomes:
        s = o.stats.get(o.scenario.source, {})
        kept = o.warehouse.get("kept")
        table.add_row(
            o.scenario.name, o.scenario.source + (f" (+{', '.join(o.scenario.also)})" if o.scenario.also else ""),
            "complete" if s.get("complete") else "incomplete", _evidence(o), str(o.served), str(o.landed),
            str(o.offerings), str(o.rejects), "-" if kept is None else f"{kept}/{o.warehouse.get('of')}",
            str(sum(o.lost.values())), "yes" if o.survived else "NO: " + "; ".join(o.problems)[:300])
    console.print(table)
    reasons: Counter[str] = Counter()
    for o in outcomes:
        reasons.update(o.reject_reasons)
    rt = Table(title="records rejected, by reason (all runs)")
    rt.add_column("reason")
    rt.add_column("records", justify="right")
    for reason, n in reasons.most_common():
        rt.add_row(reason, str(n))
    console.print(rt)
    lost = {k: sum(o.lost[k] for o in outcomes) for k in ("crawl", "normalize", "warehouse")}
    total = sum(lost.values())
    raw = sum(o.raw for o in outcomes)
    console.print(f"reconciliation: served {sum(o.served for o in outcomes)} records, landed "
                  f"{sum(o.landed for o in outcomes)}; raw {raw} = offerings {sum(o.offerings for o in outcomes)}"
                  f" + rejects {sum(o.rejects for o in outcomes)}")
    console.print(f"lost: {total} (served but not landed: {lost['crawl']}; landed but neither offering nor "
                  f"reject: {lost['normalize']}; offerings closed by a faulty run: {lost['warehouse']})")
    failed = [o.scenario.name for o in outcomes if not o.survived]
    console.print(f"faults survived: {len(outcomes) - len(failed)}/{len(outcomes)}"
                  + (f"; NOT survived: {failed}" if failed else ""))
    return 0 if not failed and total == 0 else 1


def run_all(work: Path, only: list[str] | None = None, jobs: int = 2) -> list[Outcome]:
    base = run_baseline(work)
    chosen = [(i, s) for i, s in enumerate(scenarios()) if not only or any(o.lower() in s.name.lower() for o in only)]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        outcomes = list(pool.map(lambda pair: run_scenario(pair[1], base, work, pair[0]), chosen))
    return [base.outcome, *outcomes]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scrapers.reliability", description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", help="run scenarios whose name contains this (repeatable)")
    parser.add_argument("--jobs", type=int, default=2, help="scenarios run at once (each is a crawl subprocess)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temp dir)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        outcomes = run_all(args.keep, args.only, args.jobs)
    else:
        with tempfile.TemporaryDirectory(prefix="credcat-reliability-") as tmp:
            outcomes = run_all(Path(tmp), args.only, args.jobs)
    code = report(outcomes)
    print(f"wall time {time.monotonic() - started:.0f} s", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
