"""Code location of a Celery deployment: every step is a Celery task on a worker.

    dagster code-server start -m pipelines.deploy.celery_location      # or a workspace.yaml entry
    dagster-celery worker start -A dagster_celery.app -y pipelines/deploy/celery.executor.yaml

Needs the ``deploy`` extra (dagster-celery). Executor config: celery.executor.yaml.
"""

from dagster_celery import celery_executor

from pipelines.build import build_definitions
from pipelines.deploy import deploy_yaml

executor = celery_executor.configured(deploy_yaml("celery.executor"), name="credcat_celery")
defs = build_definitions(executor=executor)
