"""The built ESCO skills matcher is kept on disk beside the list (normalize/taxonomy/skills.py
``_load_or_build``): a new process loads it instead of building it, with the same results."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from normalize.digests import file_sha256
from normalize.taxonomy import skills

FIXTURE = Path(__file__).parent / "fixtures" / "esco_skills.csv"
NAMES = ["Python Programming", "Data Visualization (DataViz)", "Leadership and Management", "databases",
         "project management", "xyzzy", "", "machine learning"]


@pytest.fixture
def esco(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the fixture list, standing in for the pinned one (only that one is cached)."""
    path = tmp_path / "skills.csv"
    shutil.copy(FIXTURE, path)
    monkeypatch.setattr(skills, "CSV_SHA256", file_sha256(path))
    return path


def test_only_the_pinned_list_is_cached(tmp_path: Path) -> None:
    path = tmp_path / "skills.csv"
    shutil.copy(FIXTURE, path)
    assert skills._matcher_cache(path) is None
    skills.clear_cache()
    assert skills.get_matcher(path) is not None
    assert not list(tmp_path.glob("*.pickle"))
    skills.clear_cache()


def _matches(matcher: skills.SkillMatcher) -> list[skills.SkillMatch]:
    return [matcher.match(n) for n in NAMES]


def test_a_new_process_loads_the_cached_matcher(esco: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    skills.clear_cache()
    built = skills.get_matcher(esco)
    cache = skills._matcher_cache(esco)
    assert built is not None and cache.is_file()
    skills.clear_cache()  # as a new process
    monkeypatch.setattr(skills, "build_matcher", lambda *a, **k: pytest.fail("built again"))
    loaded = skills.get_matcher(esco)
    assert loaded is not None and loaded is not built
    assert _matches(loaded) == _matches(skills.SkillMatcher(built.skills, built.aliases, built.settings))
    skills.clear_cache()


def test_a_damaged_cache_is_ignored_and_a_changed_list_gets_its_own(esco: Path) -> None:
    skills.clear_cache()
    first = skills.get_matcher(esco)
    cache = skills._matcher_cache(esco)
    cache.write_bytes(b"not a pickle")
    skills.clear_cache()
    again = skills.get_matcher(esco)
    assert again is not None and _matches(again) == _matches(first)
    assert cache.read_bytes() != b"not a pickle"  # built and written anew
    # Another list (one row less) pinned: another cache file, the old one removed.
    lines = esco.read_text(encoding="utf-8").splitlines(keepends=True)
    esco.write_text("".join(lines[:-1]), encoding="utf-8")
    skills.CSV_SHA256 = file_sha256(esco)  # restored by the fixture's monkeypatch
    assert skills._matcher_cache(esco) != cache
    skills.clear_cache()
    assert skills.get_matcher(esco) is not None
    assert skills._matcher_cache(esco).is_file() and not cache.exists()
    skills.clear_cache()
