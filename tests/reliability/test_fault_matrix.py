"""Every fault of scrapers/reliability.py, end to end: a real crawl of the faulty mirror, the
normalizer, a warehouse load and publish; each must survive and nothing may be lost.

One run of the whole matrix (module fixture, ~25 crawl subprocesses) feeds one test per
fault, so a failure names the fault and says what went wrong.
"""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from scrapers.reliability import Outcome, report, run_all, scenarios

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, Outcome]:
    return {o.scenario.name: o for o in run_all(tmp_path_factory.mktemp("faults"), jobs=2)}


def test_the_fault_free_baseline_reads_the_whole_catalog(outcomes):
    base = outcomes["no fault (baseline)"]
    assert base.survived, base.problems
    assert base.served == base.landed > 0
    assert all(s["complete"] for s in base.stats.values())


@pytest.mark.parametrize("name", [s.name for s in scenarios()])
def test_fault_is_survived_with_nothing_lost(outcomes, name):
    o = outcomes[name]
    assert o.problems == []
    assert o.lost == {"crawl": 0, "normalize": 0, "warehouse": 0}
    assert o.raw == o.offerings + o.rejects


def test_the_report_prints_the_table_and_the_reconciled_total(outcomes):
    buffer = io.StringIO()
    code = report(list(outcomes.values()), Console(file=buffer, width=220))
    text = buffer.getvalue()
    assert code == 0
    assert "lost: 0 " in text and "records rejected, by reason" in text
    assert text.count("│ yes") == len(outcomes)  # the survived column, one row per fault
