"""The next crawl of a generated landing, with 1% of the raw offerings changed.

``changed_landing(folder, run_id)`` writes ``landing/<source>/<run_id>/items.jsonl`` beside the
first run (``bench``): every record again, as a re-crawl lands it (its own run id and fetch
time), except that a share ``changed`` of them (default 1%) differs:

- half get a new description and new prices (every figure of every price + 10),
- a quarter are gone (removed from the catalog),
- a quarter are new listings: a copy of an existing record under a new source key, with a
  new title suffix (a new listing of an existing credential, as catalogs add them).

Lines that do not change are copied with only ``run_id`` and ``fetched_at`` rewritten by
string replacement (the landing pipeline writes those keys as plain ``"key": "value"``
pairs before any nested value), so a million records take seconds. The choice of records is
seeded and spread over all sources in proportion to their size.

Each run folder gets the landing index a crawl writes beside items.jsonl
(``items.index.parquet``, normalize/reuse.py ``index_landing``: the landing pipeline's own
code), also the base run's and those of landings cached before crawls wrote one.
"""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def _figure(text: str) -> float:
    """A price figure as written: "1,200" and "1,200.50" have thousands commas, "49,99" a
    decimal comma."""
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", text):
        return float(text.replace(",", ""))
    return float(text.replace(".", "").replace(",", ".")) if text.count(",") == 1 and "." not in text[-3:] \
        else float(text.replace(",", ""))


def _bump(text: str | None) -> str | None:
    """Every figure in a price text + 10 ("$49.99" -> "$59.99", "1,200" -> "1210.00")."""
    if not text:
        return text
    return _NUMBER.sub(lambda m: f"{_figure(m.group(0)) + 10:.2f}", text)


def _changed(item: dict[str, Any]) -> dict[str, Any]:
    item["description"] = (item.get("description") or "") + " Updated for the new term: revised modules and fees."
    prices = []
    for price in item.get("prices") or []:
        price = dict(price)
        price["text"] = _bump(price.get("text"))
        price["amount"] = _bump(price.get("amount"))
        prices.append(price)
    item["prices"] = prices or [{"text": "$59", "amount": None, "currency": None, "label": None}]
    return item


def _new_listing(item: dict[str, Any], n: int) -> dict[str, Any]:
    item["source_key"] = f"{item['source_key']}-new{n}"
    item["title"] = f"{item.get('title') or ''} (new intake)"
    return item


def changed_landing(folder: Path, run_id: str = "bench-incr", base_run: str = "bench",
                    changed: float = 0.01, seed: int = 1) -> dict[str, Any]:
    """Write the changed re-crawl of ``folder``'s ``base_run`` as ``run_id``; returns counts.

    Written once per folder and parameters (``<run_id>.json`` marks it complete) and reused."""
    marker = folder / f"{run_id}.json"
    if marker.is_file():
        made = json.loads(marker.read_text())
        if made.get("changed_share") == changed and made.get("seed") == seed and made.get("base_run") == base_run:
            index_runs(folder, (base_run, run_id))
            return made
    rng = random.Random(seed)
    fetched = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    counts = {"records": 0, "modified": 0, "removed": 0, "added": 0}
    run_key = re.compile(r'"run_id": "[^"]*"')
    time_key = re.compile(r'"fetched_at": "[^"]*"')
    for base in sorted((folder / "landing").glob(f"*/{base_run}")):
        out_dir = base.parent / run_id
        out_dir.mkdir(parents=True, exist_ok=True)
        lines = (base / "items.jsonl").read_text(encoding="utf-8").split("\n")
        lines = [line for line in lines if line.strip()]
        k = round(len(lines) * changed)
        picked = rng.sample(range(len(lines)), min(k, len(lines)))
        modified = set(picked[: k // 2])
        removed = set(picked[k // 2: k // 2 + k // 4])
        copied = picked[k // 2 + k // 4:]
        tmp = out_dir / "items.jsonl.tmp"
        with tmp.open("w", encoding="utf-8") as fh:
            for i, line in enumerate(lines):
                if i in removed:
                    continue
                if i in modified:
                    item = json.loads(line)
                    item.update(run_id=run_id, fetched_at=fetched)
                    fh.write(json.dumps(_changed(item), ensure_ascii=False) + "\n")
                    continue
                line = run_key.sub(f'"run_id": "{run_id}"', line, count=1)
                fh.write(time_key.sub(f'"fetched_at": "{fetched}"', line, count=1) + "\n")
            for n, i in enumerate(copied):
                item = json.loads(lines[i])
                item.update(run_id=run_id, fetched_at=fetched)
                fh.write(json.dumps(_new_listing(item, n), ensure_ascii=False) + "\n")
        tmp.replace(out_dir / "items.jsonl")
        invalid = (base / "invalid.jsonl").read_text(encoding="utf-8") if (base / "invalid.jsonl").is_file() else ""
        (out_dir / "invalid.jsonl").write_text(
            "".join(run_key.sub(f'"run_id": "{run_id}"', line, count=1) + "\n"
                    for line in invalid.split("\n") if line.strip()), encoding="utf-8")
        counts["records"] += len(lines) - len(removed) + len(copied)
        counts["modified"] += len(modified)
        counts["removed"] += len(removed)
        counts["added"] += len(copied)
    index_runs(folder, (base_run, run_id))
    summary = {"run_id": run_id, "base_run": base_run, "changed_share": changed, "seed": seed, **counts}
    marker.write_text(json.dumps(summary, indent=1))
    return summary


def index_runs(folder: Path, run_ids: tuple[str, ...]) -> None:
    """The landing index of every run folder of these runs that has no valid one."""
    from normalize.reuse import index_landing, read_index

    for run_id in run_ids:
        for run_dir in sorted((folder / "landing").glob(f"*/{run_id}")):
            if read_index(run_dir)[0] is None:
                index_landing(run_dir)
