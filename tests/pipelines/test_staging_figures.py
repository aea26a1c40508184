"""The staging asset's unmapped-value figures (pipelines/defs/sources.py ``unmapped_figures``)
are those of ``quality.unmapped_values`` and ``quality.unmapped_by_field``; its stored frames
are written with the folder settings (pipelines/frames.py ``FOLDER_PARQUET``)."""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from pipelines import quality
from pipelines.defs.sources import unmapped_figures
from pipelines.frames import FOLDER_PARQUET, FrameFolder, write_frame
from pipelines.io_manager import _replace_folder

NOTES = ["price: unparsed '12 ducats'", "price: unparsed 'free-ish'", "language: unknown 'xx'",
         "duration: out of range 9999 weeks", "duration: out of range 12 weeks", "level: unknown 'Z'",
         "no colon here", "workload: negative '-5'", "language: unknown 'yy'"]


def _offerings(n: int, seed: int) -> pl.DataFrame:
    rng = random.Random(seed)
    notes = [None if rng.random() < 0.1 else [rng.choice(NOTES) for _ in range(rng.randint(0, 4))]
             for _ in range(n)]
    return pl.DataFrame({"mapping_notes": notes}, schema={"mapping_notes": pl.List(pl.String)})


def test_unmapped_figures_equal_the_quality_functions() -> None:
    for n, seed in ((0, 0), (1, 1), (50, 2), (5000, 3)):
        frame = _offerings(n, seed)
        for top in (3, 10):
            rows, by_field = unmapped_figures(frame, top)
            assert rows == quality.unmapped_values(frame, top)
            assert by_field == quality.unmapped_by_field(frame)
            assert list(by_field) == list(quality.unmapped_by_field(frame))  # the same order
    assert unmapped_figures(pl.DataFrame({"x": [1]})) == ([], {})


def test_folder_frames_are_written_with_the_folder_settings(tmp_path: Path) -> None:
    frames = {"raw": pl.DataFrame({"a": list(range(1000)), "b": ["x" * 30] * 1000}),
              "offerings": pl.DataFrame({"c": [1.5, None]})}
    (tmp_path / "staging").mkdir()  # handle_output makes the parent
    _replace_folder(tmp_path / "staging" / "s", frames)
    folder = FrameFolder(tmp_path / "staging" / "s")
    for name, frame in frames.items():
        assert folder[name].equals(frame)
        column = pq.ParquetFile(tmp_path / "staging" / "s" / f"{name}.parquet").metadata.row_group(0).column(0)
        assert column.compression == FOLDER_PARQUET["compression"].upper()
        assert not column.is_stats_set
    folder.close()
    write_frame(frames["raw"], tmp_path / "one.parquet")
    assert pl.read_parquet(tmp_path / "one.parquet").equals(frames["raw"])
