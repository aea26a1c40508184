"""Kind ``file_drop``: a tabular file (CSV/TSV, JSON, JSON Lines) with a declared mapping.

A new file drop is configuration only: one table in sources.toml, no code::

    [sources.coursehub_csv]
    spider = "file_drop"            # the generic spider (or a one-line subclass)
    kind = "file_drop"
    start_urls = ["{mirror}/coursehub_csv/drop/courses.csv"]
    field_map = { title = "Course Name", awarding_body = "University / Industry Partner", ... }
    options = { format = "csv", delimiter = ",", encoding = "utf-8", key_columns = ["Platform", "Course Link"] }

``field_map`` maps RawOffering fields to columns (JSON: dotted paths); a list of columns
means "first one with a value" for text fields and "all of them" for list fields. Options:

- ``format``: ``csv`` | ``json`` | ``jsonl``; by default from the file name, then the
  content type.
- ``encoding`` (default utf-8; a BOM is dropped), ``delimiter``, ``quotechar``: CSV reading.
  Bytes that do not decode are replaced and the file is marked ``undecodable_bytes``.
- ``records_path``: JSON: dotted path to the list of records ("" when the file is the list).
- ``key_column``: the column that identifies a row; or else ``key_columns``: the row's key
  is a stable hash of those columns' values (all columns when neither is declared), so the
  same row gets the same key on every drop.
- ``list_separator``: list fields (skills, subjects ...) are split on it; without it a cell
  stays one value.

Cells are kept as written: mojibake, "4.7stars", "43K" and all. Empty cells are absent.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from scrapy.http import Response

from scrapers.base.fields import LIST_FIELDS, as_text, dig
from scrapers.base.records import RecordSpider

EXTRA_CELLS = "_extra_cells"  # where csv puts cells beyond the header


def stable_row_key(values: Sequence[Any]) -> str:
    """The key of a row without an id column: a hash of its key cells (stripped text)."""
    text = "\x1f".join("" if v is None else str(v).strip() for v in values)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


class FileDropSpider(RecordSpider):
    kind = "file_drop"

    format: str | None = None
    encoding: str = "utf-8"
    delimiter: str = ","
    quotechar: str = '"'
    records_path: str = ""
    key_column: str | None = None
    key_columns: list[str] | None = None
    list_separator: str | None = None
    columns: list[str] | None = None  # the CSV header, once read
    request_headers: ClassVar[dict[str, str]] = {"Accept": "text/csv, application/json;q=0.9, */*;q=0.5"}

    option_names: ClassVar[frozenset[str]] = RecordSpider.option_names | {
        "format", "encoding", "delimiter", "quotechar", "records_path", "key_column", "key_columns",
        "list_separator",
    }

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        text, defects = self.decode(response)
        fmt = self.file_format(response)
        if fmt == "csv":
            rows: list[Any] = self.csv_rows(text)
        elif fmt == "jsonl":
            rows = self.jsonl_rows(response, text, defects)
        else:
            rows_or_none = self.json_rows(response, text)
            if rows_or_none is None:
                return
            rows = rows_or_none
        for row in rows:
            yield from self.emit(response, row, defects)

    # --- reading the file ------------------------------------------------------------------------

    def decode(self, response: Response) -> tuple[str, list[str]]:
        defects: list[str] = []
        try:
            text = response.body.decode(self.encoding)
        except UnicodeDecodeError as exc:
            defects.append(self.page_defect(response, "undecodable_bytes", str(exc)))
            text = response.body.decode(self.encoding, errors="replace")
        return text.removeprefix("\ufeff"), defects

    def file_format(self, response: Response) -> str:
        if self.format:
            return str(self.format).lower()
        path = response.url.split("?", 1)[0].lower()
        for ext, fmt in ((".csv", "csv"), (".tsv", "csv"), (".txt", "csv"), (".jsonl", "jsonl"),
                         (".ndjson", "jsonl"), (".json", "json")):
            if path.endswith(ext):
                return fmt
        ctype = (response.headers.get(b"Content-Type") or b"").decode("latin-1").lower()
        if "ndjson" in ctype or "jsonl" in ctype:
            return "jsonl"
        return "json" if "json" in ctype else "csv"

    def csv_rows(self, text: str) -> list[dict[str, Any]]:
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=self.delimiter,
                                quotechar=self.quotechar, restkey=EXTRA_CELLS)
        self.columns = list(reader.fieldnames or [])
        return list(reader)

    def json_rows(self, response: Response, text: str) -> list[Any] | None:
        try:
            data = json.loads(text)
        except ValueError as exc:
            self.page_defect(response, "invalid_json_body", str(exc))
            self.failed_page(response.url, "invalid JSON")
            return None
        found = dig(data, self.records_path)
        if isinstance(found, list):
            return found
        if isinstance(found, dict) and self.records_path:
            return [found]
        self.page_defect(response, "records_missing", f"no list of records at {self.records_path!r}")
        self.failed_page(response.url, "no records in the file")
        return None

    def jsonl_rows(self, response: Response, text: str, defects: list[str]) -> list[Any]:
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except ValueError as exc:
                # Kept: the line lands as a record without key, hence among the rejects.
                self.page_defect(response, "invalid_json_line", f"line {n}: {exc}")
                rows.append({"_line": n, "_text": line})
        return rows

    # --- one row -----------------------------------------------------------------------------------

    def key_of(self, obj: Any) -> str | None:
        if self.key_column:
            return as_text(dig(obj, self.key_column))
        if not isinstance(obj, dict):
            return None
        columns = self.key_columns or [c for c in (self.columns or sorted(obj)) if c != EXTRA_CELLS]
        return stable_row_key([as_text(dig(obj, c)) for c in columns])

    def record(self, response: Response, obj: Any) -> dict[str, Any] | None:
        fields = super().record(response, obj)
        if fields is not None and self.list_separator:
            for name in LIST_FIELDS & fields.keys():
                fields[name] = [part.strip() for value in fields[name]
                                for part in value.split(self.list_separator) if part.strip()]
        return fields
