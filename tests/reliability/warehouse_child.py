"""A warehouse run in a child process, for the kill -9 and concurrency tests.

``python -m tests.reliability.warehouse_child PUBLISHED RUN ROWS [--stop POINT] [--marker FILE]
[--pause SECONDS]`` builds run number RUN of synthetic inputs (``tests/reliability/synthetic.py``,
ROWS offerings) on top of PUBLISHED, then publishes it, exactly as the pipeline's warehouse
step does (``warehouse.publish.build_and_publish``: under the publish lock, ``build`` into its
own ``credcat.<random>.work.duckdb`` beside it, then the rename).

``--stop POINT`` is a test-only hook installed here (nothing in warehouse/ knows of it): when
the run reaches POINT it writes MARKER and then sleeps ``--pause`` seconds (default: an hour,
i.e. until the test kills it). Points, in the order a run meets them:

- ``build``: inside the load transaction, before the marts are rebuilt (the lock held; raw,
  staging and versions already written to the work file, nothing committed);
- ``checkpoint``: the work file is built and the publish is about to checkpoint it;
- ``before_replace``: the work file is checkpointed and fsynced, the rename not yet done;
- ``after_replace``: renamed over the published path, the directory not yet fsynced.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path


def _hook(module, name: str, marker: Path, pause: float, after: bool = False) -> None:  # type: ignore[no-untyped-def]
    original = getattr(module, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        if after:
            result = original(*args, **kwargs)
        marker.write_text(name)
        time.sleep(pause)
        return result if after else original(*args, **kwargs)

    setattr(module, name, wrapper)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("published", type=Path)
    parser.add_argument("run", type=int)
    parser.add_argument("rows", type=int)
    parser.add_argument("--stop", choices=["build", "checkpoint", "before_replace", "after_replace"])
    parser.add_argument("--marker", type=Path)
    parser.add_argument("--pause", type=float, default=3600.0)
    args = parser.parse_args(argv)

    from tests.reliability.synthetic import run_inputs
    from warehouse import load, publish

    if args.stop:
        where = {"build": (load, "_refresh_marts", False), "checkpoint": (publish, "_checkpoint", False),
                 "before_replace": (publish, "fsync_file", True), "after_replace": (publish, "_fsync_dir", False)}
        module, name, after = where[args.stop]
        _hook(module, name, args.marker, args.pause, after)
    inputs = run_inputs(args.rows, args.run)
    publish.build_and_publish(args.published, inputs)
    print(f"published run {args.run}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
