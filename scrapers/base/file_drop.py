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

- ``format``: ``csv`` | ``tsv`` | ``json`` | ``jsonl``; by default from the file name
  (``.csv``, ``.tsv``/``.tab``, ``.json``, ``.jsonl``/``.ndjson``), then the content type,
  then the body itself (a body that starts with ``[`` or ``{`` is JSON, JSON Lines when its
  lines each parse; anything else is CSV).
- ``encoding``: when declared, the file's encoding, whatever the server says; otherwise a
  byte-order mark, then the charset of the Content-Type, then utf-8 (a BOM is dropped).
  Bytes that do not decode are replaced and the file is marked ``undecodable_bytes``.
- ``delimiter``, ``quotechar``: CSV reading. Without a declared delimiter: the one an Excel
  ``sep=X`` first line names (the line itself is never a row), a tab for a ``.tsv`` file or
  ``text/tab-separated-values``, else ``,`` -- unless the header then has a single column and
  one of ``; | tab`` splits it and the rows alike (logged). Header names are stripped of
  surrounding blanks; a repeated name is kept once and the later columns renamed
  (``Title_2``), marked ``duplicate_columns``; a file whose header has none of the mapped
  columns is marked ``mapped_columns_missing``. Rows whose cells are all empty are skipped
  (counted, ``credcat/empty_rows``). A record csv cannot read (an unbalanced quote that runs
  to the end of the file, a cell over 16 MiB) is a ``malformed_csv_row`` defect: its line is
  kept as a record without key (among the rejects) and reading resumes on the next line.
- ``records_path``: JSON: dotted path to the records ("" when the file is the list): a list,
  or an object of records keyed by id (``{"c1": {...}, "c2": {...}}``), each then read with its
  key (kept as ``key_column``, else ``id``, when the record has no such field).
- ``key_column``: the column that identifies a row; or else ``key_columns``: the row's key
  is a stable hash of those columns' values (all columns when neither is declared), so the
  same row gets the same key on every drop.
- ``list_separator``: list fields (skills, subjects ...) are split on it; without it a cell
  stays one value.

JSON Lines are split on line feeds only (a U+2028 inside a string is text); a line that does
not parse is an ``invalid_json_line`` defect, kept as a record without key.

Cells are kept as written: "4.7stars", "43K" and all. Empty cells are absent. What the
registry may declare about the cells (all off by default; the payload always keeps the cells
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

import codecs
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
from scrapers.base.json_api import declared_charset, known_charset
from scrapers.base.records import RecordSpider

EXTRA_CELLS = "_extra_cells"  # where csv puts cells beyond the header
FORMATS = {"csv": "csv", "tsv": "tsv", "json": "json", "jsonl": "jsonl", "ndjson": "jsonl"}
EXTENSIONS = ((".csv", "csv"), (".tsv", "tsv"), (".tab", "tsv"), (".jsonl", "jsonl"), (".ndjson", "jsonl"),
              (".json", "json"))
GUESSED_DELIMITERS = (";", "\t", "|")  # tried when none is declared and "," leaves one column
FIELD_SIZE_LIMIT = 16 * 1024 * 1024  # csv's default (128 KiB) loses whole files to one long cell
MAX_MALFORMED_ROWS = 100  # a file with more unreadable records than this is not read further
_SEP_LINE = re.compile(r'^"?sep=([^\r\n"])"?\s*$')  # Excel's first line naming the delimiter


def stable_row_key(values: Sequence[Any]) -> str:
    """The key of a row without an id column: a hash of its key cells (stripped text)."""
    text = "\x1f".join("" if v is None else str(v).strip() for v in values)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


class CsvRow(dict):
    """A CSV row: its keys in the order of the file's header (the order of its hashed key)."""


class Unreadable(dict):
    """A line that could not be read: kept as a record without key, so it lands among the rejects."""


def bom_encoding(body: bytes) -> str | None:
    """The encoding a byte-order mark at the start of ``body`` names."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                      (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if body.startswith(bom):
            return name
    return None


def text_lines(text: str) -> Iterator[str]:
    """The lines of ``text`` split on line feeds only (a trailing CR dropped): JSON Lines' lines."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        if end < 0:
            end = len(text)
        yield text[start:end].removesuffix("\r")
        start = end + 1


def sniff_format(text: str) -> str:
    """The format of a body neither its name nor its content type tells: JSON, JSON Lines or CSV."""
    if text.lstrip()[:1] not in ("[", "{"):
        return "csv"
    lines: list[str] = []
    for line in text_lines(text):
        if line.strip():
            lines.append(line)
            if len(lines) == 20:
                break
    if len(lines) < 2:
        return "json"
    for line in lines:
        try:
            if not isinstance(json.loads(line), dict | list):
                return "json"
        except (ValueError, RecursionError):
            return "json"
    return "jsonl"


def csv_records(lines: list[str], first: int, params: dict[str, Any]
                ) -> Iterator[tuple[int, list[str] | None, str | None]]:
    """``(line number, cells, None)`` of each record of ``lines[first:]``.

    A record csv cannot read (an error, or a quoted field still open at the end of the file) is
    ``(line number, None, why)``, and reading resumes on the line after the one it started on.
    """
    pos = first

    def feed() -> Iterator[str]:
        nonlocal pos
        while pos < len(lines):
            pos += 1
            yield lines[pos - 1]

    reader = csv.reader(feed(), **params)
    while True:
        start = pos
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            error = str(exc)
        else:
            if pos - start > 1 and pos >= len(lines) and _unterminated(lines[start:], params):
                error = "quoted field not closed before the end of the file"
            else:
                yield start + 1, cells, None
                continue
        yield start + 1, None, error
        pos = start + 1
        reader = csv.reader(feed(), **params)


def _unterminated(lines: list[str], params: dict[str, Any]) -> bool:
    """Whether the record of ``lines`` (read up to the end of the file) leaves a quote open."""
    quote = params.get("quotechar")
    text = "".join(lines)
    if not quote or text.count(quote) % 2 == 0:
        return False
    try:
        for _ in csv.reader(io.StringIO(text, newline=""), strict=True, **params):
            pass
    except csv.Error:
        return True
    return False


def _has_column(path: str, columns: set[str]) -> bool:
    return any(path == c or path.startswith(c + ".") for c in columns)


class FileDropSpider(RecordSpider):
    kind = "file_drop"

    format: str | None = None
    encoding: str | None = None  # None: a BOM, the Content-Type charset, else utf-8
    delimiter: str | None = None  # None: Excel's sep= line, a tab for TSV, else "," (or guessed)
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
        if self.format and str(self.format).lower() not in FORMATS:
            raise ValueError(f"{where}: format is one of {sorted(FORMATS)}, not {self.format!r}")
        if self.encoding and not known_charset(self.encoding):
            raise ValueError(f"{where}: encoding {self.encoding!r} is not a text encoding Python knows")
        if self.delimiter is not None and (not isinstance(self.delimiter, str) or len(self.delimiter) != 1):
            raise ValueError(f"{where}: delimiter is one character, not {self.delimiter!r}")
        self.catalog_locations: list[dict[str, Any]] = []

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        text, defects = self.decode(response)
        fmt = self.file_format(response, text)
        self.columns = None
        if fmt in ("csv", "tsv"):
            rows: list[Any] = self.csv_rows(text, response, defects, tab=fmt == "tsv" or self.tab_separated(response))
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
        """The body as text: the declared ``encoding``, else a BOM's, the Content-Type's, utf-8."""
        defects: list[str] = []
        encoding = self.encoding
        if not encoding:
            declared = declared_charset(response)
            encoding = bom_encoding(response.body) or (known_charset(declared) if declared else None) or "utf-8"
            if declared and not known_charset(declared):
                self.logger.info("unknown charset %r declared by %s: read as %s", declared, response.url, encoding)
        try:
            text = response.body.decode(encoding)
        except UnicodeDecodeError as exc:
            defects.append(self.page_defect(response, "undecodable_bytes", str(exc)))
            text = response.body.decode(encoding, errors="replace")
        return text.removeprefix("\ufeff"), defects

    @staticmethod
    def content_type(response: Response) -> str:
        header = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
        return header.split(";", 1)[0].strip().lower()

    def tab_separated(self, response: Response) -> bool:
        path = response.url.split("?", 1)[0].lower()
        return path.endswith((".tsv", ".tab")) or "tab-separated" in self.content_type(response)

    def file_format(self, response: Response, text: str = "") -> str:
        """``csv``, ``tsv``, ``json`` or ``jsonl``: declared, else by name, content type, body."""
        if self.format:
            return FORMATS.get(str(self.format).lower(), "json")
        path = response.url.split("?", 1)[0].lower()
        for ext, fmt in EXTENSIONS:
            if path.endswith(ext):
                return fmt
        ctype = self.content_type(response)
        if "ndjson" in ctype or "jsonl" in ctype or "json-seq" in ctype:
            return "jsonl"
        if "json" in ctype:
            return "json"
        if "tab-separated" in ctype:
            return "tsv"
        if "csv" in ctype or "comma-separated" in ctype:
            return "csv"
        return sniff_format(text)

    def csv_rows(self, text: str, response: Response | None = None, defects: list[str] | None = None,
                 tab: bool = False) -> list[dict[str, Any]]:
        """The rows of a CSV file, as dicts keyed by its header (see the module's doc)."""
        defects = [] if defects is None else defects
        if csv.field_size_limit() < FIELD_SIZE_LIMIT:
            csv.field_size_limit(FIELD_SIZE_LIMIT)
        url = response.url if response is not None else "(text)"
        lines = list(io.StringIO(text, newline=""))
        first = 0
        delimiter = self.delimiter
        excel = _SEP_LINE.match(lines[0]) if lines else None
        if excel:
            first = 1
            delimiter = delimiter or excel.group(1)
        if not delimiter:
            delimiter = "\t" if tab else self.guess_delimiter(lines[first:first + 50], url)
        params: dict[str, Any] = {"delimiter": delimiter}
        if self.quotechar:
            params["quotechar"] = self.quotechar
        else:
            params["quoting"] = csv.QUOTE_NONE

        header: list[str] | None = None
        rows: list[dict[str, Any]] = []
        empty = malformed = 0
        for line, cells, error in csv_records(lines, first, params):
            if cells is None:
                malformed += 1
                self._defect(response, "malformed_csv_row", f"line {line}: {error}")
                rows.append(Unreadable({"_line": line, "_text": lines[line - 1].rstrip("\r\n")}))
                if malformed >= MAX_MALFORMED_ROWS:
                    self.logger.warning("%s: %d unreadable CSV records, the rest is not read", url, malformed)
                    self.failed_page(url, f"{malformed} unreadable CSV records")
                    break
                continue
            if header is None:
                if cells:
                    header = self.header(cells, response, defects)
                continue
            if not any(c.strip() for c in cells):
                empty += 1
                continue
            row = CsvRow(zip(header, cells, strict=False))
            if len(cells) > len(header):
                row[EXTRA_CELLS] = cells[len(header):]
            for name in header[len(cells):]:
                row[name] = None
            rows.append(row)
        if empty and self.crawler is not None:
            self.crawler.stats.inc_value("credcat/empty_rows", empty)
        return rows

    def guess_delimiter(self, sample: list[str], url: str) -> str:
        """``,`` unless it leaves the header one column and another delimiter splits the header
        and the rows alike."""
        def shape(delimiter: str) -> tuple[int, int, int]:
            try:
                records = [r for r in csv.reader(sample, delimiter=delimiter, quotechar=self.quotechar or '"') if r]
            except csv.Error:
                return 0, 0, 0
            if not records:
                return 0, 0, 0
            width, rest = len(records[0]), records[1:]
            alike = sum(len(r) == width for r in rest)
            return (1 if width > 1 and 2 * alike >= len(rest) else 0), alike, width

        if shape(",")[2] != 1:
            return ","
        best, best_shape = ",", (0, 0, 0)
        for candidate in GUESSED_DELIMITERS:
            found = shape(candidate)
            if found[0] and found > best_shape:
                best, best_shape = candidate, found
        if best != ",":
            self.logger.info("%s: no delimiter declared, the header splits on %r", url, best)
        return best

    def header(self, cells: list[str], response: Response | None, defects: list[str]) -> list[str]:
        """Column names: stripped; a repeated name renamed (``Title_2``) so no column hides another."""
        stripped = [c.strip() for c in cells]
        taken: set[str] = set()
        names, repeated = [], []
        for name in stripped:
            if name in taken:
                n = 2
                while f"{name}_{n}" in taken or f"{name}_{n}" in stripped:
                    n += 1
                if name:
                    repeated.append(f"{name!r} -> {name}_{n}")
                name = f"{name}_{n}"
            taken.add(name)
            names.append(name)
        self.columns = names
        if repeated:
            defects.append(self._defect(response, "duplicate_columns", ", ".join(repeated)))
        wanted = self.mapped_columns()
        have = set(names) | (set(self.split_into or []) if self.split_column in taken else set())
        if wanted and not any(_has_column(path, have) for path in wanted):
            defects.append(self._defect(response, "mapped_columns_missing",
                                        f"none of {sorted(wanted)[:10]} in the header {names[:10]}"))
        return names

    def mapped_columns(self) -> set[str]:
        """The columns the declaration reads."""
        if self.rows_are == "locations":
            return {str(self.location_column)}
        out: set[str] = set()
        for paths in self.field_map.values():
            out.update([paths] if isinstance(paths, str) else paths)
        return out

    def _defect(self, response: Response | None, code: str, detail: str) -> str:
        if response is None or self.crawler is None:
            return code
        return self.page_defect(response, code, detail)

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
        if isinstance(found, dict):
            keyed = self.keyed_records(found)
            if keyed is not None:
                return keyed
            if self.records_path:
                return [found]
        self.page_defect(response, "records_missing", f"no list of records at {self.records_path!r}")
        self.failed_page(response.url, "no records in the file")
        return None

    def keyed_records(self, found: dict[str, Any]) -> list[Any] | None:
        """The records of an object keyed by id (``{"c1": {...}, "c2": {...}}``), each with its key;
        ``None`` when ``found`` reads as one record (the declared paths are its own fields)."""
        if not found or not all(isinstance(v, dict) for v in found.values()):
            return None
        paths = self.mapped_columns() | {p for p in [self.key_column, *(self.key_columns or [])] if p}
        if any(dig(found, p) is not None for p in paths):
            return None
        if not any(dig(v, p) is not None for v in found.values() for p in paths):
            return None
        name = self.key_column if self.key_column and not set(self.key_column) & {".", "*"} else "id"
        return [v if name in v else {name: key, **v} for key, v in found.items()]

    def jsonl_rows(self, response: Response, text: str, defects: list[str]) -> list[Any]:
        rows: list[Any] = []
        for n, line in enumerate(text_lines(text), 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except (ValueError, RecursionError) as exc:
                # Kept: the line lands as a record without key, hence among the rejects.
                self.page_defect(response, "invalid_json_line", f"line {n}: {exc}")
                rows.append(Unreadable({"_line": n, "_text": line}))
        return rows

    # --- one row -----------------------------------------------------------------------------------

    def key_of(self, obj: Any) -> str | None:
        if isinstance(obj, Unreadable):
            return None
        if self.key_column:
            return as_text(dig(obj, self.key_column))
        if not isinstance(obj, dict):
            return None
        # A CSV row's keys are in header order; a JSON record's are sorted (its order is no fact).
        columns = self.key_columns or [c for c in (obj if isinstance(obj, CsvRow) else sorted(obj)) if c != EXTRA_CELLS]
        return stable_row_key([as_text(dig(obj, c)) for c in columns])

    def record(self, response: Response, obj: Any) -> dict[str, Any] | None:
        if isinstance(obj, Unreadable):
            return {"source_key": None}
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
            out = {k: self._clean(v, k if column is None else column, repaired) for k, v in value.items()}
            return CsvRow(out) if isinstance(value, CsvRow) else out
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
