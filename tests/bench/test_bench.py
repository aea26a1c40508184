"""The benchmark harness: the growth fit, the re-crawl with 1% changed, and the whole chain
at a tiny size (generated landing -> every stage in its own process -> the table)."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from normalize.bench import agreement, child, landing_for, run_dirs
from pipelines.bench.incremental import _bump, changed_landing
from pipelines.bench.run import (
    DOC_END,
    DOC_PLACEHOLDER,
    DOC_START,
    STAGES,
    _python,
    dedup_input,
    file_system,
    fill_doc,
    fit_exponent,
    growth,
    markdown,
)
from pipelines.bench.stages import LINKED_DATA_STEPS, LOAD_STEPS

PROJECT = Path(__file__).resolve().parents[2]


def test_fit_exponent_recovers_known_powers() -> None:
    ns = [10_000, 100_000, 1_000_000]
    assert fit_exponent(ns, [2e-4 * n for n in ns]) == pytest.approx(1.0)
    assert fit_exponent(ns, [3e-9 * n**2 for n in ns]) == pytest.approx(2.0)
    assert fit_exponent(ns, [5.0, 5.0, 5.0]) == pytest.approx(0.0)
    # n log n over 10k..1M fits an exponent a little above 1 (1.09): within the 1.15 target.
    assert fit_exponent(ns, [n * math.log(n) for n in ns]) == pytest.approx(1.088, abs=0.002)
    # Least squares, not end points: noise in the middle moves the slope only a little.
    assert fit_exponent(ns, [1.0, 12.0, 100.0]) == pytest.approx(1.0, abs=0.05)


def test_fit_exponent_needs_two_sizes() -> None:
    assert fit_exponent([10_000], [3.0]) is None
    assert fit_exponent([10_000, 10_000], [3.0, 4.0]) is None
    assert fit_exponent([10_000, 100_000], [0.0, 4.0]) is None


def test_growth_per_stage_from_results() -> None:
    sizes = [{"full": [{"stage": "normalize", "rows": n, "wall_s": n / 1000, "cpu_s": n / 500,
                        "peak_rss_gb": 0.1 * (n / 1000) ** 0.5}]} for n in (1000, 10_000, 100_000)]
    exps = growth(sizes)["full:normalize"]
    assert exps["wall_s"] == pytest.approx(1.0) and exps["cpu_s"] == pytest.approx(1.0)
    assert exps["peak_rss_gb"] == pytest.approx(0.5) and exps["sizes"] == 3


def test_price_bump() -> None:
    assert _bump("$49.99") == "$59.99"
    assert _bump("€ 1.200,00") == "€ 1210.00"
    assert _bump("1,200") == "1210.00"
    assert _bump(None) is None


def test_agreement_counts_differences() -> None:
    ours = pl.DataFrame({"source": ["a", "a", "b"], "source_key": ["1", "2", "3"], "title": ["x", "y", None],
                         "price_amount": [10.0, None, 3.0]})
    theirs = ours.with_columns(title=pl.Series(["x", "z", None]), price_amount=pl.Series([10.004, None, 4.0]))
    full = {c: None for c in ("description", "awarding_body", "credential_type", "audience_level", "language",
                              "price_currency")}
    nums = {c: None for c in ("workload_hours_min", "workload_hours_max", "duration_weeks_min",
                              "duration_weeks_max")}

    def widen(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(*(pl.lit(v, pl.String).alias(c) for c, v in full.items()),
                                  *(pl.lit(v, pl.Float64).alias(c) for c, v in nums.items()))

    result = agreement(widen(theirs), widen(ours))
    assert result["compared_offerings"] == 3
    assert result["agreement_pct"]["title"] == pytest.approx(66.67)
    assert result["agreement_pct"]["price_amount"] == pytest.approx(66.67)
    assert result["agreement_pct"]["language"] == 100.0


def test_timed_steps_are_what_the_pipeline_calls() -> None:
    """The load and export stages time named module functions of the pipeline; if one is
    renamed or no longer called, the stage must say so rather than time less than it should."""
    import inspect

    from warehouse import export, jsonld, load, publish

    for name in LOAD_STEPS:
        assert callable(getattr(load, name)), name
    build_source = inspect.getsource(load)
    for name in LOAD_STEPS:
        assert f"{name}(" in build_source.replace(f"def {name}(", ""), f"warehouse.load no longer calls {name}"
    assert "build(" in inspect.getsource(publish.build_and_publish)
    linked = inspect.getsource(export._LinkedData)
    assert "jsonld.prepare(" in linked and "jsonld.export_documents(" in linked
    assert callable(jsonld.prepare) and callable(jsonld.export_documents) and len(LINKED_DATA_STEPS) == 2
    snapshot = inspect.getsource(export.export_snapshot)
    for name in ("entity_schemas(", "_export_entity(", "_export_changes(", "_LinkedData("):
        assert name in snapshot, name


def test_stage_fails_loudly_on_a_step_the_pipeline_dropped() -> None:
    import types

    from pipelines.bench.stages import Steps

    module = types.ModuleType("fake")
    with pytest.raises(SystemExit, match="does not exist any more"):
        Steps().wrap(module, "_gone")


def test_fill_doc_replaces_the_placeholder_then_its_own_block(tmp_path: Path) -> None:
    doc = tmp_path / "bench.md"
    doc.write_text(f"# B\n\n## Results\n\n{DOC_PLACEHOLDER}\n\n## After\n\nkept\n")
    fill_doc(doc, "### Stages\n\n| a |\n")
    first = doc.read_text()
    assert DOC_PLACEHOLDER not in first and "| a |" in first and first.endswith("## After\n\nkept\n")
    assert first.count(DOC_START) == 1 and first.count(DOC_END) == 1
    fill_doc(doc, "### Stages\n\n| b |\n")
    second = doc.read_text()
    assert "| a |" not in second and "| b |" in second and second.count(DOC_START) == 1
    assert second.replace("| b |", "| a |") == first  # nothing else moved
    doc.write_text("# no place for results\n")
    with pytest.raises(SystemExit, match="no place for the results"):
        fill_doc(doc, "x")


def test_docs_give_the_command_make_bench_runs() -> None:
    """docs/benchmarks.md's reproduce command is the Makefile's bench recipe, verbatim."""
    make = (PROJECT / "Makefile").read_text()
    recipe = make.split("\nbench:", 1)[1].split("\n\n", 1)[0]
    (command,) = [line.strip() for line in recipe.splitlines() if "-m pipelines.bench" in line]
    command = command.replace("$(BIN)", ".venv/bin")
    doc = (PROJECT / "docs" / "benchmarks.md").read_text()
    assert f"\n{command}\n" in doc
    assert "--doc docs/benchmarks.md" in command
    assert (DOC_START in doc and DOC_END in doc) or DOC_PLACEHOLDER in doc  # where the results go


def _stage_result(stage: str, rows: int, wall: float, **extra: object) -> dict:
    return {"stage": stage, "rows": rows, "wall_s": wall, "cpu_s": wall, "peak_rss_gb": 0.5,
            "rows_per_s": round(rows / wall), "load_avg_1m": 1.5, **extra}


def test_markdown_fills_every_column() -> None:
    full = [_stage_result(s, 1000, 2.0, **({"pairwise_f1": 0.96, "bcubed_f1": 0.99} if s == "resolve" else {}))
            for s in STAGES]
    size = {"size": 1000, "raw_records": 1000, "full": full, "incremental": full,
            "full_total": {"wall_s": 8.0, "cpu_s": 8.0, "peak_rss_gb": 0.5, "rows": 1000, "rows_per_s": 125,
                           "load_avg_1m": 1.5},
            "incremental_total": {"wall_s": 8.0, "cpu_s": 8.0, "peak_rss_gb": 0.5, "rows": 1000,
                                  "rows_per_s": 125, "load_avg_1m": 1.5},
            "incremental_share": 1.0,
            "normalize_baseline": {
                "credcat": {"rows": 1000, "cpu_s": 1.0, "wall_s": 1.0, "read_s": 0.2, "normalize_s": 0.8, "process_peak_rss_gb": 0.3},
                "pandas": {"rows": 1000, "cpu_s": 2.0, "wall_s": 2.0, "read_s": 0.5, "normalize_s": 1.5, "process_peak_rss_gb": 0.4,
                           "agreement": {"overall_pct": 99.5}},
                "speedup": 2.0, "speedup_mapping_only": 1.9, "speedup_cpu": 2.1},
            "resolve_baseline": {"credcat": {"wall_s": 0.5, "pairwise_f1": 0.97},
                                 "splink": {"wall_s": 50.0, "pairwise_f1": 0.91}}}
    result = {"sizes": [size], "growth": growth([size]), "acceptance": [], "machine": {
        "cpu": "x", "cores": 2, "ram_gb": 8, "os": "linux", "python": "3.11", "polars": "2", "duckdb": "2",
        "esco_skills": True, "file_system": "xfs"}, "seed": 7, "started_at": "a", "finished_at": "b", "load_before": [1.0, 1, 1],
        "load_after": [2.0, 2, 2], "command": "c"}
    table = markdown(result)
    rows = [line for line in table.splitlines() if line.startswith("| 1,000 |")]
    assert len(rows) == 2 * (len(STAGES) + 1) + 1
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert all(cells) and "-" not in cells, line
    assert "0.960 / 0.990" in rows[-1] and "50.0 / 0.910" in rows[-1]
    assert "Not fitted" in table  # one size: no exponent rows of '-'
    assert "1.5-1.5 (mean 1.5) at the stages' ends" in table
    assert "state on xfs." in table


def test_file_system_is_the_longest_mount_above_the_path(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/vda / ext4 rw 0 0\n"
                      "/dev/loop0 /mnt/x xfs rw 0 0\n"
                      "/dev/loop1 /mnt/x\\040y btrfs rw 0 0\n"
                      "tmpfs /mnt/xy tmpfs rw 0 0\n")
    assert file_system(Path("/mnt/x/state/credcat.duckdb"), mounts) == "xfs"
    assert file_system(Path("/mnt/x"), mounts) == "xfs"
    assert file_system(Path("/mnt/x y/state"), mounts) == "btrfs"
    assert file_system(Path("/mnt/xyz"), mounts) == "ext4"  # /mnt/xy is not above /mnt/xyz
    assert file_system(Path("/srv"), mounts) == "ext4"
    assert file_system(Path("/srv"), tmp_path / "no-mounts") == "unknown"


@pytest.fixture(scope="module")
def tiny_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bench-cache")
    return landing_for(2000, seed=7, root=root, workers=1)


def _items(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def test_changed_landing_changes_one_percent(tiny_landing: Path) -> None:
    summary = changed_landing(tiny_landing, "bench-incr", changed=0.04, seed=3)
    before = {(i["source"], i["source_key"]): i for d in run_dirs(tiny_landing) for i in _items(d / "items.jsonl")}
    after = {(i["source"], i["source_key"]): i
             for d in run_dirs(tiny_landing, "bench-incr") for i in _items(d / "items.jsonl")}
    assert all(i["run_id"] == "bench-incr" for i in after.values())
    removed, added = set(before) - set(after), set(after) - set(before)
    changed = [k for k in set(before) & set(after) if before[k]["description"] != after[k]["description"]]
    assert len(removed) == summary["removed"] > 0 and len(added) == summary["added"] > 0
    assert len(changed) == summary["modified"] > 0
    assert summary["records"] == len(after)
    assert 0.03 <= (len(removed) + len(added) + len(changed)) / len(before) <= 0.05
    assert changed_landing(tiny_landing, "bench-incr", changed=0.04, seed=3) == summary  # reused


@pytest.mark.slow
def test_dedup_baseline_reads_one_generated_input(tmp_path: Path) -> None:
    """normalize.dedup.bench's tools read the input the harness generated once (--data)."""
    made = dedup_input(tmp_path, 1500, seed=7)
    assert "error" not in made, made
    folder = Path(made["folder"])
    assert (folder / "offerings.parquet").is_file() and (folder / "truth.parquet").is_file()
    assert dedup_input(tmp_path, 1500, seed=7)["folder"] == made["folder"]  # cached, not generated again
    result = child(["-m", "normalize.dedup.bench", "--one", "credcat", "1500", "--seed", "7", "--data", str(folder)])
    assert "error" not in result, result.get("error")
    assert result["input"] == "read from Parquet" and result["n_offerings"] == made["n_offerings"]
    assert 0.5 < result["pairwise_f1"] <= 1.0


@pytest.mark.slow
def test_whole_chain_at_a_tiny_size(tiny_landing: Path, tmp_path: Path) -> None:
    env = {**os.environ, "CREDCAT_BENCH_CACHE": str(tiny_landing.parent)}
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\n\n## Results\n\n{DOC_PLACEHOLDER}\n")
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.bench", "--sizes", "2000", "--splink-max", "0", "--no-crawl",
         "--out", str(tmp_path), "--doc", str(doc)],
        cwd=PROJECT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "latest.json").read_text())
    (size,) = result["sizes"]
    for part in ("full", "incremental"):
        assert [r["stage"] for r in size[part]] == list(STAGES)
        for r in size[part]:
            assert r["rows"] > 1500 and r["wall_s"] > 0 and r["cpu_s"] > 0 and 0 < r["peak_rss_gb"] < 8
            assert r["rows_per_s"] == round(r["rows"] / r["wall_s"])
            assert r["load_avg_1m"] >= 0 and r["seconds"] and all(v >= 0 for v in r["seconds"].values())
    assert size["full_total"]["wall_s"] == pytest.approx(sum(r["wall_s"] for r in size["full"]), abs=0.02)
    assert size["incremental_share"] == pytest.approx(
        size["incremental_total"]["wall_s"] / size["full_total"]["wall_s"], abs=0.001)
    export = size["full"][-1]
    assert export["manifest_problems"] == 0 and export["rows"] == size["full"][0]["offerings"]
    # The export stage timed what export_snapshot runs now, the linked data included.
    assert all(export["seconds"][step] > 0 for step in (*LINKED_DATA_STEPS, "parquet", "verify_manifest check"))
    load = size["full"][2]
    assert load["marts_consistent"]["duplicates"] == 0 and load["build_steps"]["apply_versions"] > 0
    assert size["incremental"][2]["versions_opened"] < size["full"][2]["versions_opened"] / 10  # only the 1%
    # The re-crawl stores only its changed raw records and offerings again, beside a sighting of each.
    incr_load = size["incremental"][2]
    assert incr_load["raw_inserted"] > 1500 and incr_load["raw_contents_inserted"] < incr_load["raw_inserted"] / 10
    assert incr_load["staging_offering_contents_inserted"] < incr_load["rows"] / 10
    assert 0 < load["warehouse_used_mb"] <= load["warehouse_mb"]
    assert size["incremental"][-1]["changes"]["upserts"] > 0  # the change feed saw the 1%
    assert 0.5 < size["full"][1]["pairwise_f1"] <= 1.0
    nb = size["normalize_baseline"]
    if importlib.util.find_spec("pandas") is not None:  # the baseline needs the bench extra
        assert nb["pandas"]["agreement"]["compared_offerings"] > 1500 and nb["speedup"] > 0
    assert {c["target"] for c in result["acceptance"]} >= {"full batch time", "incremental run",
                                                           "normalization vs pandas"}
    table = (tmp_path / "latest.md").read_text()
    for heading in ("### Stages", "### Baselines", "### Warehouse file", "### Growth", "### Acceptance", "Machine:"):
        assert heading in table
    assert table.count("| 2,000 | full |") == len(STAGES) + 1  # four stages and the total
    f1 = size["full"][1]
    assert f"{f1['pairwise_f1']:.3f} / {f1['bcubed_f1']:.3f} |" in table  # the pipeline resolve F1 column
    written = doc.read_text()
    assert DOC_PLACEHOLDER not in written and table.strip() in written
    assert f"Command: `{_python()} -m pipelines.bench --sizes 2000 " in table
