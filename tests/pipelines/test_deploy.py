"""The instance and executor configurations load and validate against Dagster's own schemas:
the single machine's dagster_home/dagster.yaml, and the Celery and Kubernetes deployments of
pipelines/deploy/ (docs/deploy.md). No cluster runs here: "loads" means the code location
builds with the executor, and every YAML passes the schema of the class that will read it."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from dagster._config import validate_config
from dagster._core.instance.config import dagster_instance_config

from pipelines.deploy import DEPLOY_DIR, deploy_yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_EXTRA = "needs the deploy extra (pip install -e '.[deploy]'; .ci/run installs it)"
ENV = {"CREDCAT_CELERY_BROKER": "pyamqp://guest@rabbitmq:5672//", "CREDCAT_CELERY_BACKEND": "redis://redis:6379/0",
       "CREDCAT_K8S_NAMESPACE": "credcat", "DAGSTER_PG_HOST": "postgres", "DAGSTER_PG_USERNAME": "dagster",
       "DAGSTER_PG_PASSWORD": "secret"}


@pytest.fixture
def deploy_env(monkeypatch):
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)


def instance_config(folder: Path, name: str) -> dict:
    config, custom_class = dagster_instance_config(str(folder), name)
    assert custom_class is None
    return dict(config)


def test_single_machine_instance_validates() -> None:
    config = instance_config(ROOT / "dagster_home", "dagster.yaml")
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == 1
    assert config["concurrency"]["pools"]["default_limit"] == 1
    assert config["freshness"]["enabled"] is True


@pytest.mark.parametrize("name", ["celery", "k8s"])
def test_deployment_instances_validate(name: str, deploy_env) -> None:
    config = instance_config(DEPLOY_DIR, f"{name}.dagster.yaml")
    limits = config["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {"key": "credcat/writes", "value": "warehouse", "limit": 1} in limits
    assert "postgres" in config["storage"]


def test_an_invalid_instance_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dagster.yaml").write_text("concurrency:\n  pools:\n    default_limt: 1\n")
    with pytest.raises(dg.DagsterInvalidConfigError):
        dagster_instance_config(str(tmp_path), "dagster.yaml")


def test_celery_code_location_loads_with_its_executor(deploy_env) -> None:
    pytest.importorskip("dagster_celery", reason=DEPLOY_EXTRA)
    from dagster_celery import celery_executor

    from pipelines.deploy.celery_location import defs

    result = validate_config(celery_executor.config_schema.config_type, deploy_yaml("celery.executor"))
    assert result.success, result.errors
    for job_name in ("credcat_full_refresh", "source_coursehub_csv"):
        job = defs.resolve_job_def(job_name)
        assert job.executor_def.name == "credcat_celery"
        # Schedules and sensors launch with no run config: the baked-in config must be enough.
        assert dg.validate_run_config(job, {})
    bad = validate_config(celery_executor.config_schema.config_type, {"brokr": "x"})
    assert not bad.success


def test_k8s_code_location_and_run_launcher_load(deploy_env) -> None:
    pytest.importorskip("dagster_k8s", reason=DEPLOY_EXTRA)
    from dagster_k8s import K8sRunLauncher, k8s_job_executor

    from pipelines.deploy.k8s_location import defs

    result = validate_config(k8s_job_executor.config_schema.config_type, deploy_yaml("k8s.executor"))
    assert result.success, result.errors
    job = defs.resolve_job_def("credcat_full_refresh")
    assert job.executor_def.name == "credcat_k8s"
    assert dg.validate_run_config(job, {})
    launcher = deploy_yaml("k8s.dagster")["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    checked = validate_config(K8sRunLauncher.config_type(), launcher["config"])
    assert checked.success, checked.errors
    # A per-step override names a step that exists.
    steps = {n.name for n in job.nodes_in_topological_order}
    assert set(deploy_yaml("k8s.executor")["per_step_k8s_config"]) <= steps
