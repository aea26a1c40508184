"""The credcat command: kinds, parse, sources, query."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from pipelines.cli import _toml, app
from scrapers.kinds import KINDS

runner = CliRunner()


def test_every_kind_has_a_generic_spider() -> None:
    import os

    from scrapy.spiderloader import SpiderLoader
    from scrapy.utils.project import get_project_settings

    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "scrapers.settings")
    spiders = set(SpiderLoader.from_settings(get_project_settings()).list())
    assert set(KINDS) <= spiders


def test_kinds_lists_every_kind() -> None:
    result = runner.invoke(app, ["kinds"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in KINDS:
        assert name in result.output


def test_parse_prints_offerings_and_rejects(tmp_path: Path) -> None:
    data = tmp_path / "drop.csv"
    data.write_text("ref,course,cost\nA1,Widget Safety Basics,$49\nA2,,$10\n", encoding="utf-8")
    result = runner.invoke(app, ["parse", "--kind", "file_drop", str(data), "-f", "title=course",
                                 "-f", "prices=cost", "-o", "key_column=ref"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [o["title"] for o in lines] == ["Widget Safety Basics"]
    assert lines[0]["price_amount"] == 49.0 and lines[0]["price_currency"] == "USD"
    assert "reject A2: missing_title" in result.stderr


def test_parse_refuses_an_unknown_kind(tmp_path: Path) -> None:
    result = runner.invoke(app, ["parse", "--kind", "no_such_kind", str(tmp_path)])
    assert result.exit_code == 2


def test_ad_hoc_registry_toml_round_trips() -> None:
    import tomllib

    data = {"sources": {"adhoc": {"kind": "file_drop", "options": {"delimiter": ";", "header": True, "n": 2},
                                  "location": ["/a b/c.csv"], "field_map": {"title": "Name \"x\""}}}}
    assert tomllib.loads(_toml(data)) == data


def test_query_refuses_without_a_warehouse(tmp_path: Path) -> None:
    result = runner.invoke(app, ["query", "select 1"], env={"CREDCAT_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2
