"""``python -m warehouse.contract [--write]``: check (default) or regenerate the export contract."""

from __future__ import annotations

import sys

from normalize.schema import SCHEMA_VERSION
from warehouse.contract import check_contract, live_schemas, load_contract, write_contract


def main(argv: list[str]) -> int:
    live = live_schemas()
    if "--write" in argv:
        for path in write_contract(schemas=live):
            print(f"wrote {path}")
        return 0
    problems = check_contract(live, load_contract(), SCHEMA_VERSION)
    for problem in problems:
        print(problem)
    print("contract ok" if not problems else f"{len(problems)} contract problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
