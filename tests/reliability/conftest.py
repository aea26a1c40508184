"""Fixtures of the reliability tests: a published warehouse holding one run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.reliability.runs import run_here


@pytest.fixture(scope="session")
def first_run(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("crash") / "credcat.duckdb"
    run_here(path, 1)
    return path


@pytest.fixture
def published(first_run: Path, tmp_path: Path) -> Path:
    path = tmp_path / "warehouse" / "credcat.duckdb"
    path.parent.mkdir()
    shutil.copyfile(first_run, path)
    return path
