"""``python -m pipelines.bench [--sizes N ...]``: see pipelines.bench.run."""

from pipelines.bench.run import main

raise SystemExit(main())
