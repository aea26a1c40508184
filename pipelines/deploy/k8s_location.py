"""Code location of a Kubernetes deployment: every step is a Kubernetes Job (its own pod).

Needs the ``deploy`` extra (dagster-k8s). Executor config: k8s.executor.yaml; the instance
(K8sRunLauncher, Postgres, run queue, pools): k8s.dagster.yaml.
"""

from dagster_k8s import k8s_job_executor

from pipelines.build import build_definitions
from pipelines.deploy import deploy_yaml

executor = k8s_job_executor.configured(deploy_yaml("k8s.executor"), name="credcat_k8s")
defs = build_definitions(executor=executor)
