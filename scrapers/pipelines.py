"""Item pipelines. One concern each.

LandingPipeline: validate each yielded item as a RawOffering and append it to the run's
``items.jsonl``; an item that fails validation goes to ``invalid.jsonl`` with the reason, so
nothing a spider extracted is lost. When the spider closes, the index of the lines written
(``items.index.parquet``: each line's byte range and fingerprint, normalize/reuse.py
``LandingIndex``) is saved beside items.jsonl, so normalizing a re-crawl need not read the
lines that did not change. A run folder whose items.jsonl already held lines gets no index.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from normalize.schema import RawOffering

log = logging.getLogger(__name__)


def landing_dir(root: str | Path, source: str, run_id: str) -> Path:
    return Path(root) / source / run_id


class LandingPipeline:
    def __init__(self, root: str, run_id: str) -> None:
        self.root = root
        self.run_id = run_id
        self.items: Any = None
        self.invalid: Any = None
        self.index: Any = None  # normalize.reuse.LandingIndex of items.jsonl, or None

    @classmethod
    def from_crawler(cls, crawler):  # type: ignore[no-untyped-def]
        pipe = cls(crawler.settings.get("CREDCAT_LANDING_DIR"), crawler.settings.get("CREDCAT_RUN_ID") or "adhoc")
        pipe.crawler = crawler
        return pipe

    def open_spider(self, spider=None) -> None:  # type: ignore[no-untyped-def]
        spider = spider or self.crawler.spider
        out = landing_dir(self.root, getattr(spider, "source_name", spider.name), self.run_id)
        out.mkdir(parents=True, exist_ok=True)
        # Append-only within a run; a fresh run id gets fresh files. items.jsonl is written as
        # UTF-8 bytes (the index records byte ranges).
        from normalize.reuse import INDEX_NAME, LandingIndex

        (out / INDEX_NAME).unlink(missing_ok=True)  # an index of an earlier state of the file
        self.items = (out / "items.jsonl").open("ab")
        self.index = LandingIndex() if self.items.tell() == 0 else None
        self.invalid = (out / "invalid.jsonl").open("a", encoding="utf-8")

    def close_spider(self, spider=None) -> None:  # type: ignore[no-untyped-def]
        for fh in (self.items, self.invalid):
            if fh:
                fh.close()
        if self.index is not None and self.items is not None:
            index, self.index = self.index, None
            try:
                index.save(Path(self.items.name))
            except Exception as exc:  # no index: normalize reads the file instead
                log.warning("landing index of %s not written: %s", self.items.name, exc)

    def process_item(self, item: Any) -> Any:
        """Land ``item``: valid -> items.jsonl, else invalid.jsonl with the reason. Never raises:
        an item that cannot even be serialized (a cycle, nesting deeper than the stack, a
        value JSON cannot hold) still lands in invalid.jsonl, as text (reason
        ``schema_violation``, detail ``unserializable: ...``)."""
        stats = self.crawler.stats
        try:
            data = dict(item)
        except (TypeError, ValueError) as exc:
            data = {"value": item}
            return self._invalid(data, "schema_violation", f"not a mapping: {exc}", item)
        try:
            raw = RawOffering.model_validate(data)
        except ValidationError as exc:
            return self._invalid(data, "schema_violation", str(exc), item)
        except (RecursionError, ValueError, TypeError) as exc:
            return self._invalid(data, "schema_violation", f"unserializable: {type(exc).__name__}: {exc}", item)
        try:
            line = raw.model_dump(mode="json")
            line["payload"] = json.dumps(raw.payload, ensure_ascii=False, default=str)
            text = json.dumps(line, ensure_ascii=False, allow_nan=False)
            encoded = text.encode("utf-8")  # a lone surrogate raises here (a ValueError)
        except (RecursionError, ValueError, TypeError) as exc:
            return self._invalid(data, "schema_violation", f"unserializable: {type(exc).__name__}: {exc}", item)
        self.items.write(encoded + b"\n")
        if self.index is not None:
            try:
                self.index.add(text, encoded)
            except Exception as exc:  # no index for this run: normalize reads the file instead
                log.warning("landing index abandoned: %s", exc)
                self.index = None
        stats.inc_value("credcat/landed_items")
        return item

    def _invalid(self, data: dict[str, Any], reason: str, detail: str, item: Any) -> Any:
        stats = self.crawler.stats
        stats.inc_value("credcat/invalid_items")
        if detail.startswith("unserializable"):
            stats.inc_value("credcat/unserializable_items")
        key = data.get("source_key")
        row = {
            "source": _text(data.get("source")),
            "source_key": None if key is None else _text(key),
            "run_id": self.run_id,
            "reason": reason,
            "detail": detail[:2000],
            "payload": _payload_text(data),
        }
        text = json.dumps(row, ensure_ascii=False)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: kept as its JSON escape
            text = json.dumps(row)
        self.invalid.write(text + "\n")
        return item


def _text(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return str(value)[:2000]
    except Exception:  # a __str__ that raises: a hostile object, still recorded
        return f"<unprintable {type(value).__name__}>"


def _payload_text(data: dict[str, Any]) -> str:
    """The item as JSON text; an item JSON cannot hold (cycles, depth, NaN) as its repr."""
    try:
        return json.dumps(data, default=str, ensure_ascii=False, allow_nan=False)
    except (RecursionError, ValueError, TypeError):
        try:
            text = repr(data)
        except RecursionError:
            text = f"<{type(data).__name__} nested deeper than the stack>"
        return json.dumps({"unserializable_repr": text[:100_000]}, ensure_ascii=False)
