"""Fitting weights on labelled candidate pairs, and the tuning tool around it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest
from dedup_fixtures import synthetic_catalog

from normalize.dedup import candidate_pairs, fit_weights, tune
from normalize.dedup.scoring import _pool_adjacent_violators
from normalize.dedup.settings import (
    Weights,
    check_weights,
    credential_type_families,
    default_settings,
)

SETTINGS = default_settings()


def test_pooling_removes_order_violations_and_keeps_totals() -> None:
    counts = [(10.0, 2.0), (40.0, 4.0), (1.0, 50.0)]  # level 2 looks purer than level 1
    pooled = _pool_adjacent_violators(counts)
    ratios = [m / u for m, u in pooled]
    assert ratios[0] == pytest.approx(ratios[1]) == pytest.approx(50 / 6)
    assert ratios[1] >= ratios[2]
    assert sum(m for m, _ in pooled) == pytest.approx(51)
    assert sum(u for _, u in pooled) == pytest.approx(56)
    assert _pool_adjacent_violators([(9.0, 1.0), (1.0, 9.0)]) == [(9.0, 1.0), (1.0, 9.0)]


@pytest.fixture(scope="module")
def labelled() -> tuple[pl.DataFrame, pl.DataFrame]:
    frame, truth = synthetic_catalog(3_000, seed=4)
    return candidate_pairs(frame), truth


def test_fitted_weights_never_rise_down_the_levels(labelled: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    pairs, truth = labelled
    weights = fit_weights(pairs, truth, SETTINGS.comparisons, SETTINGS.weights)
    check_weights(SETTINGS.comparisons, weights)
    matches = pairs.join(truth, left_on="offering_id_l", right_on="offering_id").join(
        truth, left_on="offering_id_r", right_on="offering_id", suffix="_r"
    )
    assert weights.prior == pytest.approx((matches["truth_key"] == matches["truth_key_r"]).mean())
    for comp in SETTINGS.comparisons:
        support = pairs[f"gamma_{comp.name}"].value_counts()
        seen = {str(g): n for g, n in support.iter_rows()}
        fitted = [
            weights.levels[comp.name][lv.label].weight
            for lv in comp.levels
            if lv.test != "null" and seen.get(lv.label, 0) >= 10
        ]
        assert all(a >= b - 1e-9 for a, b in zip(fitted, fitted[1:], strict=False)), comp.name
        for lv in comp.levels:
            if lv.test == "null":
                assert weights.levels[comp.name][lv.label].weight == 0


def test_credential_type_families_stop_at_a_new_level() -> None:
    parents = {"Credential": None, "Certificate": "Credential", "AcademicCertificate": "Certificate",
               "Degree": "Credential", "MasterDegree": "Degree", "MasterOfArtsDegree": "MasterDegree",
               "BachelorDegree": "Degree", "Course": None}
    levels = {"MasterDegree": 7, "MasterOfArtsDegree": 7, "BachelorDegree": 6}
    families = credential_type_families(parents, levels)
    assert families["AcademicCertificate"] == families["Certificate"] == "Certificate"
    assert families["MasterOfArtsDegree"] == "MasterDegree"
    assert families["BachelorDegree"] == "BachelorDegree"
    assert families["Course"] == "Course" and families["Credential"] == "Credential"


def test_tune_evaluates_fits_and_writes_loadable_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from demo_like import demo_offerings

    demo = demo_offerings(seed=8, scale=0.5)
    if demo is None:
        pytest.skip("demo universe (scrapers.mirror.universe) not importable")
    frame, truth = demo
    folder = tune.save_dataset(tmp_path / "seed8", frame, truth, {"seed": 8})
    assert tune.main(["evaluate", str(folder)]) == 0
    out = tmp_path / "weights.json"
    assert tune.main(["fit", "--fit-dirs", str(folder), "--write", "--weights", str(out)]) == 0
    assert "held out" not in capsys.readouterr().out  # nothing was held out
    data = json.loads(out.read_text())
    assert "_doc" in data and "seed8" in data["_doc"]
    weights = Weights.from_json(data)
    check_weights(SETTINGS.comparisons, weights)
    assert weights.floors == SETTINGS.weights.floors
    assert all(math.isfinite(weights.weight(c, lab)) for c, lv in weights.levels.items() for lab in lv)


def test_truth_gives_test_records_their_own_key() -> None:
    rows = [
        {"source": "a", "source_key": "1", "credential_key": "c1", "is_test": False},
        {"source": "b", "source_key": "9", "credential_key": "c1", "is_test": False},
        {"source": "b", "source_key": "t", "credential_key": "c1", "is_test": True},
    ]
    keys = tune.truth_frame(rows)["truth_key"].to_list()
    assert keys[0] == keys[1] == "c1"
    assert keys[2] != "c1" and keys[2] != keys[0]

def test_read_truth_file_as_truth_frame_of_its_credential_rows(tmp_path: Path) -> None:
    """read_truth (the file reader of the pipeline's demo check and the bench) keeps the rows
    with a credential, gives test records their own key, and ignores the other fields."""
    rows = [
        {"source": "a", "source_key": "1", "credential_key": "c1", "is_test": False, "expected": {"x": [1]}},
        {"source": "b", "source_key": "9", "credential_key": "c1"},
        {"source": "b", "source_key": "t", "credential_key": "c1", "is_test": True},
        {"source": "b", "source_key": "r1", "credential_key": None, "is_test": False},
        {"source": "b", "source_key": "r2", "credential_key": "", "is_test": True},
        {"source": "c", "source_key": "2", "is_test": None, "credential_key": "c2"},
    ]
    path = tmp_path / "truth.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n", encoding="utf-8")
    kept = [r for r in rows if r.get("credential_key")]
    assert tune.read_truth(path).equals(tune.truth_frame(kept))
    assert tune.read_truth(path)["truth_key"].to_list() == ["c1", "c1", "test:b:t", "c2"]



def test_import_run_reads_staged_offerings_whole_or_patched(tmp_path: Path) -> None:
    """A pipeline run's staging folders as the IO manager stores them: one whole, one a patch
    on an earlier output's file (pipelines/frames.py)."""
    from pipelines.frames import Derived, FrameFolder, write_folder

    frame, _ = synthetic_catalog(60, seed=3)
    a, b = frame.head(frame.height // 2), frame.tail(frame.height - frame.height // 2)
    staging = tmp_path / "data" / "runtime" / "io" / "staging"
    (staging / "a").mkdir(parents=True)
    write_folder({"offerings": a}, staging / "a")
    (tmp_path / "earlier").mkdir()
    write_folder({"offerings": b}, tmp_path / "earlier")
    earlier = FrameFolder(tmp_path / "earlier")
    again = b.with_columns(run_id=pl.lit("second"))
    (staging / "b").mkdir()
    rows = pl.Series(range(b.height), dtype=pl.Int64)
    assert write_folder({"offerings": Derived(again, earlier, "offerings", rows, ("run_id", "fetched_at"))},
                        staging / "b") == {"offerings": "patch"}
    earlier.close()
    (tmp_path / "data" / "demo" / "seed1").mkdir(parents=True)
    (tmp_path / "data" / "demo" / "seed1" / "truth.jsonl").write_text(
        json.dumps({"source": "x", "source_key": "k", "credential_key": "c"}) + "\n", encoding="utf-8")
    out = tune.import_run(tmp_path / "data", tmp_path / "dataset")
    offerings, _ = tune.load_dataset(out)
    assert offerings.equals(pl.concat([a, again]))
