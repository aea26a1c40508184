"""The whole pipeline on the sources file that lists every file of the real-data corpus:
it succeeds and publishes a warehouse where every format is present."""

from __future__ import annotations

import dagster as dg
import pytest

from pipelines.build import build_definitions
from tests.realdata.conftest import REALDATA_REGISTRY, realdata_sources
from warehouse.publish import open_readonly

pytestmark = pytest.mark.slow


def test_full_pipeline_on_every_real_format(tmp_path) -> None:
    defs = build_definitions(REALDATA_REGISTRY, data_dir=str(tmp_path))
    job = defs.resolve_job_def("credcat_full_refresh")
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert result.success
    failed = [e.check_name for e in result.get_asset_check_evaluations()
              if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]
    assert not failed

    sources = realdata_sources()
    con = open_readonly(tmp_path / "warehouse" / "credcat.duckdb")
    try:
        runs = dict(con.execute("select source, bool_and(complete) from marts.source_runs group by 1").fetchall())
        offered = dict(con.execute("select source, count(*) from marts.fct_offering group by 1").fetchall())
        credentials = con.execute("select count(*) from marts.dim_credential").fetchone()[0]
    finally:
        con.close()
    assert set(runs) == set(sources) and all(runs.values())
    # Every format (kind) of the corpus reaches the marts.
    kinds_present = {sources[name].kind for name in offered}
    assert kinds_present == {s.kind for s in sources.values()}
    assert 0 < credentials <= sum(offered.values())
