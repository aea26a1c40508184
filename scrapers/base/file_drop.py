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

Cells are kept as written: "4.7stars", "43K" and all. Empty cells are absent. What the
registry may declare about the cells (all off by default; the payload always keeps the row
exactly as read, these only shape what is mapped and keyed):

- ``repair_mojibake``: UTF-8 text that was once decoded as cp1252/latin-1 ("Â·", "Ã©",
  "â€™") is decoded back (``ftfy.fix_encoding``: encoding repair only, nothing else
  changes); records with a repaired cell carry the defect ``mojibake_repaired``.
- ``strip_labels``: labels glued to cells ("Skills you'll gain: ...") removed from the start.
- ``null_values``: placeholder cells that mean "not given" ("TBD", "unknown", a scraper's
  "This browser is no longer supported."), compared case-insensitively after stripping.
- ``column_units``: ``["Exam Duration (min)=minutes", "Cost (USD)=USD"]``: the unit a
  column's header (or the publisher's data dictionary) states, appended to bare-number
  cells of that column so the raw text carries it ("100" -> "100 minutes").
- ``split_column`` / ``split_separator`` / ``split_into``: one cell that packs several facts
  ("Beginner · Professional Certificate · 3 - 6 Months") is split into named virtual columns
  the ``field_map`` can use; a cell with another number of parts is not split and its record
  carries the defect ``unsplittable_cell``.
- ``field_defaults``: ``["awarding_body=CompTIA", "credential_type_raw=Certification"]``:
  what the registry knows of every record of the file (its publisher, what the catalog
  lists), used where the record itself gives no value.
- ``rows_are``: ``offerings`` (default) or ``locations``: a file that lists catalog
  locations (vendor -> catalog URL) is read row by row, each row's ``location_column``
  counted (``credcat/catalog_locations``) and logged, and no offering is made of it: a
  catalog's address is not a credential. The locations are not followed (another source,
  of the kind of what they serve, reads each catalog).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from ftfy import fix_encoding
from scrapy.http import Response

from scrapers.base.fields import LIST_FIELDS, TEXT_FIELDS, as_text, check_field_map, dig, extract
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
    repair_mojibake: bool = False
    strip_labels: list[str] | None = None
    null_values: list[str] | None = None
    column_units: list[str] | None = None
    split_column: str | None = None
    split_separator: str = "·"
    split_into: list[str] | None = None
    field_defaults: list[str] | None = None
    rows_are: str = "offerings"
    location_column: str | None = None
    columns: list[str] | None = None  # the CSV header, once read
    request_headers: ClassVar[dict[str, str]] = {"Accept": "text/csv, application/json;q=0.9, */*;q=0.5"}

    option_names: ClassVar[frozenset[str]] = RecordSpider.option_names | {
        "format", "encoding", "delimiter", "quotechar", "records_path", "key_column", "key_columns",
        "list_separator", "repair_mojibake", "strip_labels", "null_values", "column_units", "split_column",
        "split_separator", "split_into", "field_defaults", "rows_are", "location_column",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        where = f"source {self.source_name}"
        self.defaults = _pairs(self.field_defaults, "field_defaults", where)
        check_field_map(self.defaults, where)
        if set(self.defaults) - TEXT_FIELDS:
            raise ValueError(f"{where}: field_defaults only sets text fields, not {sorted(set(self.defaults) - TEXT_FIELDS)}")
        self.units = _pairs(self.column_units, "column_units", where)
        self.nulls = {v.strip().casefold() for v in self.null_values or []}
        if self.split_column and not self.split_into:
            raise ValueError(f"{where}: split_column needs split_into (names of the parts)")
        if self.rows_are not in ("offerings", "locations"):
            raise ValueError(f"{where}: rows_are is 'offerings' or 'locations', not {self.rows_are!r}")
        if self.rows_are == "locations" and not self.location_column:
            raise ValueError(f"{where}: rows_are = 'locations' needs location_column")
        self.catalog_locations: list[dict[str, Any]] = []

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
        if self.rows_are == "locations":
            self.read_locations(response, rows)
            return
        for row in rows:
            yield from self.emit(response, row, defects)

    def read_locations(self, response: Response, rows: list[Any]) -> None:
        """A list of catalog locations: every row is read and counted, none is an offering."""
        stats = self.crawler.stats
        for n, row in enumerate(rows, 1):
            clean = self.clean(row)[0]
            where = as_text(dig(clean, str(self.location_column)))
            self.catalog_locations.append({"row": n, "location": where, "record": row})
            if where:
                stats.inc_value("credcat/catalog_locations")
                self.logger.info("catalog location (row %d of %s): %s", n, response.url, where)
            else:
                self.page_defect(response, "location_missing", f"row {n}: no {self.location_column}")

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
        except (ValueError, RecursionError) as exc:
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
            except (ValueError, RecursionError) as exc:
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
        clean, defects = self.clean(obj)
        view = self.split(clean, defects) if self.split_column and isinstance(clean, dict) else clean
        fields = extract(view, self.field_map)
        fields["source_key"] = self.key_of(clean)
        for name, value in self.defaults.items():
            fields.setdefault(name, value)
        if self.list_separator:
            for name in LIST_FIELDS & fields.keys():
                fields[name] = [part.strip() for value in fields[name]
                                for part in value.split(self.list_separator) if part.strip()]
        if defects:
            fields["page_defects"] = [self.page_defect(response, code) for code in defects]
        return fields

    # --- what the registry declares about the cells ------------------------------------------------

    def clean(self, obj: Any) -> tuple[Any, list[str]]:
        """The row as mapped: mojibake decoded, labels, placeholders and units as declared."""
        repaired: list[bool] = []
        out = self._clean(obj, None, repaired)
        return out, (["mojibake_repaired"] if any(repaired) else [])

    def _clean(self, value: Any, column: str | None, repaired: list[bool]) -> Any:
        if isinstance(value, dict):
            return {k: self._clean(v, k if column is None else column, repaired) for k, v in value.items()}
        if isinstance(value, list):
            return [self._clean(v, column, repaired) for v in value]
        if not isinstance(value, str):
            return value
        text = value
        if self.repair_mojibake:
            text = fix_encoding(text)
            if text != value:
                repaired.append(True)
        for label in self.strip_labels or []:
            if text.lstrip().startswith(label):
                text = text.lstrip()[len(label):].lstrip()
        if text.strip().casefold() in self.nulls:
            return None
        unit = self.units.get(column or "")
        if unit and _BARE_NUMBER.match(text):
            text = f"{text.strip()} {unit}"
        return text

    def split(self, row: dict[str, Any], defects: list[str]) -> dict[str, Any]:
        cell = as_text(dig(row, str(self.split_column)))
        if cell is None:
            return row
        parts = [p.strip() for p in cell.split(self.split_separator)]
        names = list(self.split_into or [])
        if len(parts) != len(names):
            defects.append("unsplittable_cell")
            return row
        clash = sorted(set(names) & set(row))
        if clash:
            raise ValueError(f"split_into names {clash} are columns of the file already")
        return {**row, **{n: p for n, p in zip(names, parts, strict=True) if p}}


_BARE_NUMBER = re.compile(r"^\s*\d+(?:[.,]\d+)?\s*$")


def _pairs(items: list[str] | None, option: str, where: str) -> dict[str, str]:
    """``["a=b", ...]`` as a dict (the registry's options hold lists of text, not tables)."""
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(f"{where}: {option} entries are 'name=value', not {item!r}")
        out[name.strip()] = value.strip()
    return out
