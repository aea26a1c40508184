"""Sensors: a file-drop source's inbox, and failed runs.

- ``inbox_<source>`` (one per source with an ``inbox``): a new file in the folder starts one run
  of the source's job that crawls that file alone. Exactly once per file version: the cursor
  holds the (mtime, size) of every file seen, and the run key is the file's name and version,
  which Dagster never launches twice. Files still being written (changed in the last
  ``SETTLE_SECONDS``), hidden files and temporary names (.part, .tmp ...) wait for a later tick.
- ``record_run_failures``: a failed run is tagged with what failed (its metadata in the UI)
  and recorded in the warehouse (``ops.run_failures``) by a run of ``record_run_failure``.
"""

import json
import time
from pathlib import Path

import dagster as dg

from pipelines import failures
from pipelines.defs.jobs import source_job_name
from pipelines.defs.sources import CrawlConfig, raw_key
from pipelines.pools import DUCKDB_WRITER
from pipelines.resources import CredcatSettings
from scrapers.registry import Source

SETTLE_SECONDS = 5.0
TEMP_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".swp")
RECORD_JOB = "record_run_failure"


def ready_files(source: Source, data_dir: Path, now: float | None = None,
                settle: float = SETTLE_SECONDS) -> dict[str, str]:
    """Files of the source's inbox that are complete: name -> version ("<mtime_ns>:<size>").

    Only regular files confined to the inbox (``Source.inbox_files``: no symlink out of it),
    not hidden, not a temporary name, unchanged for ``settle`` seconds.
    """
    now = time.time() if now is None else now
    out: dict[str, str] = {}
    for path in source.inbox_files(data_dir):
        if path.name.lower().endswith(TEMP_SUFFIXES):
            continue
        st = path.stat()
        if now - st.st_mtime < settle:
            continue
        out[path.name] = f"{st.st_mtime_ns}:{st.st_size}"
    return out


def make_inbox_sensor(source: Source) -> dg.SensorDefinition:
    op_name = raw_key(source.name).to_python_identifier()

    @dg.sensor(
        name=f"inbox_{source.name}",
        job_name=source_job_name(source.name),
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"A new file in {source.inbox} starts one run of {source.name} that crawls that file alone.",
    )
    def _inbox(context: dg.SensorEvaluationContext, settings: CredcatSettings):
        root = settings.paths().root
        folder = source.resolved_inbox(root)
        if folder is None or not folder.is_dir():
            return dg.SkipReason(f"inbox {folder} does not exist yet")
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        current = ready_files(source, root)
        requests = [
            dg.RunRequest(
                run_key=f"{source.name}:{name}:{version}",
                run_config=dg.RunConfig(ops={op_name: CrawlConfig(files=[str(folder / name)])}),
                tags={"credcat/inbox_file": str(folder / name), "source": source.name},
            )
            for name, version in current.items() if seen.get(name) != version
        ]
        # Only files still present are remembered; a file put back unchanged keeps its run key.
        context.update_cursor(json.dumps(current, sort_keys=True))
        return requests or dg.SkipReason(f"no new file in {folder}")

    return _inbox


class FailureConfig(dg.Config):
    run_id: str
    job_name: str
    failed_at: float
    failed_steps: list[str] = []
    assets: list[str] = []
    sources: list[str] = []
    message: str = ""


@dg.op(pool=DUCKDB_WRITER, description="Write a failed run into ops.run_failures of the warehouse.")
def record_failure_op(context: dg.OpExecutionContext, config: FailureConfig, settings: CredcatSettings) -> None:
    written = failures.record_failure(settings.paths(), config.model_dump())
    if context.instance.has_run(config.run_id):
        context.instance.add_run_tags(config.run_id, {"credcat/failure_recorded": "ops.run_failures"})
    context.log.info(f"run {config.run_id}: {'recorded' if written else 'already recorded'} in {failures.TABLE}")


def record_failure_job() -> dg.JobDefinition:
    @dg.job(name=RECORD_JOB, description="Record a failed run in the warehouse (requested by record_run_failures).")
    def _record():
        record_failure_op()

    return _record


def describe_failure(run_id: str, job_name: str, failed_at: float, step_failures: list, run_message: str) -> dict:
    """What failed in a run: its steps, their assets and sources, and the error messages
    (``step_failures``: the run's STEP_FAILURE DagsterEvents)."""
    step_keys = [e.step_key for e in step_failures if e.step_key]
    assets, sources = failures.step_assets(step_keys)
    errors = []
    for e in step_failures:
        error = getattr(e.event_specific_data, "error", None)
        messages = []
        while error is not None:  # the step's error, then what caused it (the user code's error)
            messages.append(error.message.strip())
            error = error.cause
        errors.append(f"{e.step_key}: {' | caused by: '.join(messages) or e.message}")
    return {"run_id": run_id, "job_name": job_name, "failed_at": failed_at, "failed_steps": step_keys,
            "assets": assets, "sources": sources, "message": "\n".join([run_message or "run failed", *errors])}


def failure_tags(details: dict) -> dict[str, str]:
    """The failed run's tags (its metadata in the UI): what failed, and that it is being recorded."""
    return {
        "credcat/failed_steps": ",".join(details["failed_steps"])[:200] or "(none)",
        "credcat/failed_sources": ",".join(details["sources"])[:200] or "(none)",
        "credcat/failure": details["message"].splitlines()[0][:200],
        "credcat/failure_recorded": "requested",
    }


def failure_details(context: dg.RunFailureSensorContext) -> dict:
    run = context.dagster_run
    record = context.instance.get_run_record_by_id(run.run_id)
    failed_at = record.end_time if record is not None and record.end_time else time.time()
    return describe_failure(run.run_id, run.job_name, failed_at, context.get_step_failure_events(),
                            context.failure_event.message or "")


def make_failure_sensor(record_job: dg.JobDefinition) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="record_run_failures",
        request_job=record_job,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Tags a failed run with what failed and records it in ops.run_failures of the warehouse.",
    )
    def _failures(context: dg.RunFailureSensorContext):
        run = context.dagster_run
        if run.job_name == RECORD_JOB:
            return dg.SkipReason(f"a failure of {RECORD_JOB} itself is not recorded again (run {run.run_id})")
        details = failure_details(context)
        context.instance.add_run_tags(run.run_id, failure_tags(details))
        return dg.RunRequest(run_key=f"failure:{run.run_id}",
                             run_config=dg.RunConfig(ops={"record_failure_op": FailureConfig(**details)}),
                             tags={"credcat/failed_run_id": run.run_id})

    return _failures
