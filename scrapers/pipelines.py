"""Item pipelines. One concern each.

LandingPipeline: validate each yielded item as a RawOffering and append it to the run's
``items.jsonl``; an item that fails validation goes to ``invalid.jsonl`` with the reason, so
nothing a spider extracted is lost.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from normalize.schema import RawOffering


def landing_dir(root: str | Path, source: str, run_id: str) -> Path:
    return Path(root) / source / run_id


class LandingPipeline:
    def __init__(self, root: str, run_id: str) -> None:
        self.root = root
        self.run_id = run_id
        self.items: Any = None
        self.invalid: Any = None

    @classmethod
    def from_crawler(cls, crawler):  # type: ignore[no-untyped-def]
        pipe = cls(crawler.settings.get("CREDCAT_LANDING_DIR"), crawler.settings.get("CREDCAT_RUN_ID") or "adhoc")
        pipe.crawler = crawler
        return pipe

    def open_spider(self, spider=None) -> None:  # type: ignore[no-untyped-def]
        spider = spider or self.crawler.spider
        out = landing_dir(self.root, getattr(spider, "source_name", spider.name), self.run_id)
        out.mkdir(parents=True, exist_ok=True)
        # Append-only within a run; a fresh run id gets fresh files.
        self.items = (out / "items.jsonl").open("a", encoding="utf-8")
        self.invalid = (out / "invalid.jsonl").open("a", encoding="utf-8")

    def close_spider(self, spider=None) -> None:  # type: ignore[no-untyped-def]
        for fh in (self.items, self.invalid):
            if fh:
                fh.close()

    def process_item(self, item: Any) -> Any:
        data = dict(item)
        stats = self.crawler.stats
        try:
            raw = RawOffering.model_validate(data)
        except ValidationError as exc:
            stats.inc_value("credcat/invalid_items")
            self.invalid.write(json.dumps({
                "source": data.get("source"),
                "source_key": None if data.get("source_key") is None else str(data.get("source_key")),
                "run_id": self.run_id,
                "reason": "schema_violation",
                "detail": str(exc)[:2000],
                "payload": json.dumps(data, default=str, ensure_ascii=False),
            }, ensure_ascii=False) + "\n")
            return item
        line = raw.model_dump(mode="json")
        line["payload"] = json.dumps(raw.payload, ensure_ascii=False, default=str)
        self.items.write(json.dumps(line, ensure_ascii=False) + "\n")
        stats.inc_value("credcat/landed_items")
        return item
