"""Set-up shared by every test directory (loaded before any test module is imported)."""

from __future__ import annotations

import os

# A pytest-xdist worker (`make test` runs the suite on them) starts with COLUMNS=80 and LINES=24
# in its environment, which a plain pytest process does not have. A Rich console made when its
# module is imported (pipelines.cli) would keep that width for good and ignore the COLUMNS a
# test's CliRunner sets, wrapping the tables the CLI tests read. Workers run as one process does.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _name in ("COLUMNS", "LINES"):
        os.environ.pop(_name, None)
