"""read_landing(): run folders -> raw frame (RAW_SCHEMA) + rejects (REJECT_SCHEMA)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from normalize.schema import RAW_SCHEMA, REJECT_SCHEMA
from normalize.transforms import normalize, read_landing


def item(**fields) -> dict:
    row = {"source": "acme", "source_key": "k1", "url": "https://acme.test/c/k1",
           "fetched_at": "2025-01-15T09:30:00Z", "run_id": "run-1", "title": "Widgets 101",
           "learning_outcomes": ["Build a widget"], "subjects": [], "subject_codes": [], "skills": [],
           "prices": [{"text": "$49", "amount": None, "currency": None, "label": None}],
           "start_dates_raw": [], "page_defects": [], "payload": json.dumps({"id": "k1"})}
    row.update(fields)
    return row


def write_run(root: Path, source: str, run_id: str, items: list[str] | None = None,
              invalid: list[str] | None = None) -> Path:
    run_dir = root / source / run_id
    run_dir.mkdir(parents=True)
    if items is not None:
        (run_dir / "items.jsonl").write_text("".join(line + "\n" for line in items), encoding="utf-8")
    if invalid is not None:
        (run_dir / "invalid.jsonl").write_text("".join(line + "\n" for line in invalid), encoding="utf-8")
    return run_dir


def test_items_are_read_with_the_raw_schema(tmp_path):
    run_dir = write_run(tmp_path, "acme", "run-1", [json.dumps(item()), json.dumps(item(source_key="k2"))])
    raw, invalid = read_landing([run_dir])
    assert raw.schema == RAW_SCHEMA
    assert invalid.schema == REJECT_SCHEMA and invalid.height == 0
    assert raw["source_key"].to_list() == ["k1", "k2"]
    assert raw["fetched_at"][0] == datetime(2025, 1, 15, 9, 30, tzinfo=UTC)
    assert raw["prices"][0].to_list() == [{"text": "$49", "amount": None, "currency": None, "label": None}]
    assert json.loads(raw["payload"][0]) == {"id": "k1"}


def test_offset_and_naive_timestamps_are_utc(tmp_path):
    run_dir = write_run(tmp_path, "acme", "run-1", [
        json.dumps(item(fetched_at="2025-01-15T11:30:00+02:00")),
        json.dumps(item(source_key="k2", fetched_at="2025-01-15T09:30:00")),
    ])
    raw, _ = read_landing([run_dir])
    assert raw["fetched_at"].to_list() == [datetime(2025, 1, 15, 9, 30, tzinfo=UTC)] * 2


def test_invalid_items_become_schema_violation_rejects(tmp_path):
    bad = {"source": "acme", "source_key": "k9", "run_id": "run-1", "reason": "schema_violation",
           "detail": "title: Input should be a valid string", "payload": json.dumps({"title": 5})}
    run_dir = write_run(tmp_path, "acme", "run-1", [json.dumps(item())], [json.dumps(bad)])
    raw, invalid = read_landing([run_dir])
    assert raw.height == 1
    assert invalid.to_dicts() == [{**bad}]


def test_missing_and_empty_files_give_empty_frames(tmp_path):
    empty = write_run(tmp_path, "acme", "run-empty", items=[], invalid=[])
    nothing = write_run(tmp_path, "acme", "run-nothing")
    raw, invalid = read_landing([empty, nothing, tmp_path / "acme" / "never-ran"])
    assert raw.height == 0 and raw.schema == RAW_SCHEMA
    assert invalid.height == 0 and invalid.schema == REJECT_SCHEMA
    raw, invalid = read_landing([])
    assert raw.schema == RAW_SCHEMA and invalid.schema == REJECT_SCHEMA


def test_broken_lines_become_rejects_and_good_lines_survive(tmp_path):
    lines = [
        json.dumps(item()),
        '{"source": "acme", "source_key": "trunc',  # a crawl killed mid-write
        "",
        json.dumps(item(source_key="k3", payload={"as": "object"})),
        json.dumps(item(source_key="k4", learning_outcomes="not a list")),
        "[1, 2]",
    ]
    run_dir = write_run(tmp_path, "acme", "run-1", lines)
    raw, invalid = read_landing([run_dir])
    assert raw["source_key"].to_list() == ["k1", "k3"]
    assert json.loads(raw["payload"][1]) == {"as": "object"}
    reasons = invalid.select("source_key", "reason", "run_id").to_dicts()
    assert reasons == [
        {"source_key": None, "reason": "invalid_json", "run_id": "run-1"},
        {"source_key": "k4", "reason": "schema_violation", "run_id": "run-1"},
        {"source_key": None, "reason": "invalid_json", "run_id": "run-1"},
    ]
    assert invalid["payload"][0].startswith('{"source": "acme"')
    assert all(d.startswith("items.jsonl line ") for d in invalid["detail"])


def test_several_runs_and_sources_concatenate(tmp_path):
    a = write_run(tmp_path, "acme", "run-1", [json.dumps(item())])
    b = write_run(tmp_path, "other", "run-7", [json.dumps(item(source="other", run_id="run-7"))],
                  ["not json at all"])
    raw, invalid = read_landing([a, b])
    assert raw.select("source", "run_id").rows() == [("acme", "run-1"), ("other", "run-7")]
    # A line that is not JSON still knows where it came from: the folder names.
    assert invalid.select("source", "run_id", "reason").rows() == [("other", "run-7", "invalid_json")]


def test_landing_to_offerings_reconciles(tmp_path):
    lines = [json.dumps(item(source_key=k, title=t)) for k, t in
             [("k1", "Widgets 101"), ("k1", "Widgets again"), ("k2", ""), ("k3", "TestCourse")]]
    run_dir = write_run(tmp_path, "acme", "run-1", lines, ['{"source": "acme", "run_id": "run-1", "payload": "{}"}'])
    raw, invalid = read_landing([run_dir])
    result = normalize(raw.lazy())
    rejects = pl.concat([invalid, result.rejects])
    assert raw.height + invalid.height == result.offerings.height + rejects.height
    assert sorted(rejects["reason"]) == ["duplicate_source_key", "missing_title", "schema_violation"]
    assert result.offerings.filter(pl.col("is_test"))["source_key"].to_list() == ["k3"]


def test_a_line_separator_inside_a_value_does_not_split_the_record(tmp_path):
    """U+2028 is legal unescaped in JSON text; the line-by-line fallback must not split on it."""
    import json as _json

    from normalize.transforms import read_landing

    run = tmp_path / "src" / "r1"
    run.mkdir(parents=True)
    good = {"source": "src", "source_key": "k1", "fetched_at": "2026-01-01T00:00:00Z", "run_id": "r1",
            "title": "Line\u2028separated", "payload": "{}"}
    broken = "{not json"
    (run / "items.jsonl").write_text(_json.dumps(good, ensure_ascii=False) + "\n" + broken + "\n", encoding="utf-8")
    raw, rejects = read_landing([run])
    assert raw["title"].to_list() == ["Line\u2028separated"]
    assert rejects["reason"].to_list() == ["invalid_json"]


def test_normalize_with_its_optimizations_equals_polars_defaults(tmp_path, monkeypatch):
    # normalize() turns parts of Polars' optimizer off (fixed costs per call), more of it for
    # small inputs; the frames must be those the default optimizations give, on every demo
    # source's dirt, with either setting.
    import normalize.transforms as transforms
    from scrapers.mirror.landing import write_landing
    from scrapers.registry import load_sources

    write_landing(tmp_path, scale=0.3, workers=1)
    kinds = {n: s.provider_kind for n, s in load_sources().items()}
    run_dirs = sorted((tmp_path / "landing").glob("*/bench"))
    assert len(run_dirs) >= 8
    assert transforms._optimizations(10).comm_subplan_elim is False
    assert transforms._optimizations(10**6).comm_subplan_elim is True
    for run_dir in run_dirs:
        raw, _ = read_landing([run_dir])
        results = {}
        for name, threshold, flags in (("small", 10**9, None), ("large", 0, None),
                                       ("default", None, pl.QueryOptFlags())):
            if threshold is not None:
                monkeypatch.setattr(transforms, "SMALL_INPUT_ROWS", threshold)
            if flags is not None:
                monkeypatch.setattr(transforms, "_optimizations", lambda rows, flags=flags: flags)
            results[name] = normalize(raw.lazy(), provider_kinds=kinds)
            monkeypatch.undo()
        assert results["default"].offerings.height > 0, run_dir
        for name in ("small", "large"):
            assert results[name].offerings.equals(results["default"].offerings), (run_dir, name)
            assert results[name].rejects.equals(results["default"].rejects), (run_dir, name)
