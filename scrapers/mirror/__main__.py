"""``python -m scrapers.mirror generate|serve``: the demo catalog from the command line."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from scrapers.mirror.faults import load_plan
from scrapers.mirror.generate import generate
from scrapers.mirror.server import RunningServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scrapers.mirror")
    sub = parser.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate", help="write the demo catalog and its truth")
    g.add_argument("--out", type=Path, required=True)
    g.add_argument("--seed", type=int, default=7)
    g.add_argument("--scale", type=float, default=1.0)
    g.add_argument("--source", action="append", dest="sources", help="only this source's site (repeatable)")
    s = sub.add_parser("serve", help="serve a generated catalog on 127.0.0.1")
    s.add_argument("root", type=Path)
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--faults", type=Path, help="a fault plan (JSON, per source; see scrapers/mirror/faults.py)")
    s.add_argument("--no-generated-faults", action="store_true", help="play only --faults, not faults.json")
    args = parser.parse_args(argv)
    if args.cmd == "generate":
        print(json.dumps(generate(args.out, seed=args.seed, scale=args.scale, sources=args.sources), indent=1))
        return 0
    extra = load_plan(args.faults) if args.faults else None
    with RunningServer(args.root, args.port, faults=extra, generated_faults=not args.no_generated_faults) as server:
        print(f"serving {args.root} at {server.base_url} (Ctrl-C stops)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
