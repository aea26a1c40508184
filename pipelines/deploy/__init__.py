"""Deployments that run sources in parallel: the same definitions on Dagster's Celery or
Kubernetes executor (docs/deploy.md).

Each deployment is a code location module (``celery_location``, ``k8s_location``) plus two YAML
files beside it: ``<name>.dagster.yaml`` (the instance: Postgres storage, run queue, pools) and
``<name>.executor.yaml`` (the executor's config, baked into the code location so schedules and
sensors need no run config). Secrets and addresses are ``{env: VAR}`` values, read when a run
starts. tests/pipelines/test_deploy.py validates all of it with the executors' own schemas.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DEPLOY_DIR = Path(__file__).resolve().parent


def deploy_yaml(name: str) -> dict[str, Any]:
    """One of the YAML files beside this module, e.g. ``deploy_yaml("celery.executor")``."""
    path = DEPLOY_DIR / f"{name}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping")
    return data
