"""Benchmarks of the whole pipeline at scale (issue 9): ``python -m pipelines.bench`` / ``make bench``.

- ``run``: the orchestrator (sizes, stages, baselines, growth fit, the table);
- ``stages``: one pipeline stage per process (normalize, resolve, load + publish, export);
- ``incremental``: the re-crawl with 1% of the raw offerings changed;
- ``crawl``: crawl throughput against the local mirror.

The landing data per (seed, size) and the normalization benchmark with its pandas baseline
are ``normalize.bench`` and ``normalize.bench_pandas``. See docs/benchmarks.md.
"""
