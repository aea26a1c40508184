"""Exact caches across resolve runs: comparison levels (``CompareCache``) and prepared keys
(``PrepareCache``, see "the prepare cache" below).

``compare.compare`` decides a pair's levels from nothing but the two prepared rows' values in
the columns its comparisons read, the comparisons and the pruning bounds (pair by pair:
no corpus statistic, block size or other pair enters; corpus-dependent keys such as
``title_distinct`` or the spacing-unified ``body_key`` are values of the prepared row, so a
row whose key moved because the corpus did is a changed row here). A pair whose two rows
are unchanged since the last run, compared under the same settings and code, therefore gets
the same levels again, and those are taken from the cache instead of recomputed.

Layout of the cache folder (``resolve_report(..., cache=folder)``):

- ``compare.json``: format, settings digest, compared columns, comparison names and levels,
  row and pair counts, and the name, size and SHA-256 of the two data files;
- ``compare-rows-<token>.arrow``: the previous run's prepared rows in ``rid`` order
  (``offering_id``, ``d0``, ``d1``: two independently seeded 64-bit hashes of the row's
  compared columns, 128 bits in all);
- ``compare-pairs-<token>.arrow``: every pair the previous run compared, ``key`` =
  ``rid_l * 2^32 + rid_r`` in that run's row ids, and one UInt8 level index per comparison
  (null where pruned).

A new row is mapped to its old row id when its ``offering_id`` and both digests are equal;
a new pair whose two rows both map is looked up by the old key (an exact integer match).
Rows are numbered in ``offering_id`` order in both runs, so ``rid_l < rid_r`` maps to
``old_l < old_r`` and the pair keeps its orientation. The only way to reuse a wrong result is
a 128-bit collision between a row's old and new values.

The settings digest covers the comparisons (levels, columns, scorers, thresholds), the
pruning bounds (prior, level weights, link threshold), the SHA-256 of every ``.py`` file of
this package and of its ``data/`` files, and the Polars, rapidfuzz, NumPy and Python
versions (Polars' hashes are only stable within a version). A cache that is absent,
unreadable, damaged (checksum), inconsistent or written under another digest is ignored and
everything is compared; writing is atomic (data files under fresh names, then
``compare.json`` replaced by rename) and a failed write is recorded in the statistics, never
raised.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import platform
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import polars as pl
import rapidfuzz

from normalize.dedup import compare
from normalize.dedup.settings import Comparison, TextRules
from normalize.digests import files_digest

FORMAT = 1
META = "compare.json"
_PACKAGE = Path(__file__).parent
_HALF = 1 << 32
_NULL = 255  # pruned level, in the numpy arrays the gammas are assembled in
# Seeds of the two row digests (any two different values; fixed so digests persist).
_SEEDS = (0x5EED_0000, 0x7A11_0000)  # + column position
_COMPRESSION = "lz4"


def code_digest() -> str:
    """SHA-256 over this package's ``.py`` files and its ``data/`` files (names and contents)."""
    return files_digest(_PACKAGE, [*_PACKAGE.glob("*.py"), *(p for p in (_PACKAGE / "data").rglob("*") if p.is_file())])


def compared_columns(comparisons: Sequence[Comparison]) -> list[str]:
    """Every prepared column ``compare`` reads (exact/null/rel_diff tests, fuzzy text, token counts)."""
    return sorted({c for comp in comparisons for c in comp.columns})


def settings_digest(comparisons: Sequence[Comparison], prune: compare.Pruning | None) -> str:
    """What, besides the two rows' values, decides a pair's levels."""
    prune_part: Any = None
    if prune is not None:
        prune_part = {
            "prior_weight": repr(float(prune.prior_weight)),
            "min_weight": repr(float(prune.min_weight)),
            "tables": {k: [repr(float(x)) for x in v] for k, v in sorted(prune.tables.items())},
        }
    payload = {
        "format": FORMAT,
        "comparisons": [repr(c) for c in comparisons],
        "prune": prune_part,
        "code": code_digest(),
        "versions": {
            "polars": pl.__version__,
            "rapidfuzz": rapidfuzz.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: a bijective 64-bit mixer (wrapping uint64 arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def row_digests(prepared: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """[offering_id, d0, d1] in row order: two 64-bit digests of the row's compared columns.

    Each column is hashed by Polars with a seed of its own per digest and position (nulls
    hash to a value of their own), and the column hashes are folded in order through a 64-bit
    mixer: ~10x cheaper than hashing a struct of the columns. Polars hashes -0.0 and 0.0 alike,
    so a float column also folds in the sign of its zeros (``_zero_sign``): a value that moved
    between them moves the digest, as any other change does.
    """
    floats = {c for c in columns if prepared.schema[c].is_float()}
    hashes = prepared.select(
        [pl.col(c).hash(seed=base + i).alias(f"{j}:{c}") for j, base in enumerate(_SEEDS) for i, c in enumerate(columns)]
        + [_zero_sign(c).alias(f"-0:{c}") for c in floats]
    )
    digests = []
    for j in range(len(_SEEDS)):
        d = np.full(prepared.height, np.uint64(_SEEDS[j]), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for c in columns:
                d = _mix(d ^ hashes[f"{j}:{c}"].to_numpy())
                if c in floats:
                    d = _mix(d ^ hashes[f"-0:{c}"].to_numpy())
        digests.append(pl.Series(f"d{j}", d, dtype=pl.UInt64))
    return pl.DataFrame([prepared["offering_id"], *digests])


def _zero_sign(column: str) -> pl.Expr:
    """1 where the float value is -0.0, else 0 (null included), as UInt64: 1/-0.0 is -inf."""
    value = pl.col(column)
    return ((value == 0) & ((1.0 / value) < 0)).fill_null(False).cast(pl.UInt64)


def _pack(left: str, right: str) -> pl.Expr:
    """One UInt64 per pair: left row id in the high half."""
    return pl.col(left).cast(pl.UInt64) * pl.lit(_HALF, dtype=pl.UInt64) + pl.col(right).cast(pl.UInt64)


@dataclass
class _Stats:
    """What a cache did in one run, for ``stats["cache"]``: the fields in order (seconds
    rounded, ``write_error`` only when there was one), then ``extra``."""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "extra" or (f.name == "write_error" and not value):
                continue
            out[f.name] = round(value, 4) if isinstance(value, float) else value
        return out | getattr(self, "extra", {})


@dataclass
class CacheStats(_Stats):
    status: str = "disabled"  # disabled | absent | hit | ignored: <why>
    rows_unchanged: int = 0
    pairs_reused: int = 0
    pairs_computed: int = 0
    written: bool = False
    write_error: str | None = None
    read_seconds: float = 0.0
    write_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class _Ignored(Exception):
    """The cache exists but cannot be used (recorded as ``ignored: <reason>``)."""


def _read_generation(folder: Path, meta_name: str, expected: dict[str, Any],
                     parts: dict[str, pl.Schema | None]) -> tuple[dict[str, Any], dict[str, pl.DataFrame]]:
    """A cache generation written by ``_replace_generation``: its metadata file (``meta_name``,
    every ``expected`` key equal) and each part's Arrow (or Parquet) file, its size and SHA-256 checked, its
    columns ``parts[part]`` (None: checked by the caller) and its row count the recorded one.
    Raises FileNotFoundError (no cache) or _Ignored (a cache that cannot be used, and why)."""
    try:
        text = (folder / meta_name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise _Ignored(f"unreadable {meta_name}: {exc}") from exc
    try:
        meta = json.loads(text)
    except ValueError as exc:
        raise _Ignored(f"{meta_name} is not JSON") from exc
    if not isinstance(meta, dict):
        raise _Ignored(f"{meta_name} is not an object")
    for key, value in expected.items():
        if meta.get(key) != value:
            raise _Ignored("other settings" if key in ("settings", "digest") else f"other {key}")
    frames: dict[str, pl.DataFrame] = {}
    for part, schema in parts.items():
        info = meta.get(part)
        if not isinstance(info, dict) or not isinstance(info.get("file"), str) or "/" in info["file"]:
            raise _Ignored(f"{meta_name} lacks {part}")
        try:
            data = (folder / info["file"]).read_bytes()
            if len(data) != info.get("bytes") or hashlib.sha256(data).hexdigest() != info.get("sha256"):
                raise _Ignored(f"{info['file']} damaged (size or checksum)")
            frame = pl.read_parquet(data) if info["file"].endswith(".parquet") else pl.read_ipc(data)
            del data
        except _Ignored:
            raise
        except Exception as exc:  # noqa: BLE001 - any read failure means: compute without
            raise _Ignored(f"{info['file']} unreadable: {type(exc).__name__}") from exc
        if schema is not None and frame.schema != schema:
            raise _Ignored(f"unexpected columns in {part}")
        if frame.height != info.get("n"):
            raise _Ignored(f"{part} count differs from {meta_name}")
        frames[part] = frame
    return meta, frames


T = TypeVar("T")


def _attempt(read: Callable[[], T]) -> tuple[T | None, str]:
    """``read()`` of a cache's previous generation and the status the cache's stats record:
    ``hit``, ``absent`` (no cache) or ``ignored: <why>`` (unusable; a run never fails on its cache)."""
    try:
        return read(), "hit"
    except FileNotFoundError:
        return None, "absent"
    except _Ignored as exc:
        return None, f"ignored: {exc}"
    except Exception as exc:  # noqa: BLE001 - never fail a run on its cache
        return None, f"ignored: {type(exc).__name__}: {exc}"


def _expected_meta(digest: str, comparisons: Sequence[Comparison], columns: list[str]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "settings": digest,
        "columns": columns,
        "comparisons": [[c.name, c.labels] for c in comparisons],
    }


def _read(folder: Path, expected: dict[str, Any], comparisons: Sequence[Comparison]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows, pairs) of the previous run; raises FileNotFoundError or _Ignored."""
    row_schema = pl.Schema({"offering_id": pl.String(), "d0": pl.UInt64(), "d1": pl.UInt64()})
    pair_schema = pl.Schema({"key": pl.UInt64(), **{compare.gamma_column(c): pl.UInt8() for c in comparisons}})
    _, frames = _read_generation(folder, META, expected, {"rows": row_schema, "pairs": pair_schema})
    rows, pairs = frames["rows"], frames["pairs"]
    if rows["offering_id"].null_count() or pairs["key"].null_count():
        raise _Ignored("null keys")
    keys = pairs["key"].to_numpy()
    if len(keys) > 1 and not bool((keys[1:] > keys[:-1]).all()):
        raise _Ignored("pair keys not strictly increasing")
    for comp in comparisons:
        top = pairs[compare.gamma_column(comp)].max()
        if top is not None and int(top) >= len(comp.levels):  # type: ignore[arg-type]
            raise _Ignored(f"level index out of range in {comp.name}")
    return rows, pairs


def _assemble(
    pairs: pl.DataFrame,
    comparisons: Sequence[Comparison],
    old_pairs: pl.DataFrame,
    hit: np.ndarray,
    source: np.ndarray,
    computed: pl.DataFrame,
) -> pl.DataFrame:
    """``pairs`` plus gamma Enum columns: the cached levels (old pair ``source``) where ``hit``,
    the computed ones (in order) elsewhere; pruned stays null."""
    miss = ~hit
    gammas = []
    for comp in comparisons:
        name = compare.gamma_column(comp)
        pruned = len(comp.levels)  # index of the null appended to the labels below
        index = np.empty(pairs.height, dtype=np.uint8)
        index[hit] = old_pairs[name].fill_null(pruned).to_numpy()[source]
        index[miss] = computed[name].to_physical().fill_null(pruned).cast(pl.UInt8).to_numpy()
        labels = pl.Series(name, [*comp.labels, None], dtype=pl.Enum(comp.labels))
        gammas.append(labels.gather(pl.Series(index)))
    return pairs.with_columns(gammas)


@dataclass
class CompareCache:
    """One run's use of the cache folder: ``compare`` (read + compare the rest), then ``write``."""

    folder: Path | None
    comparisons: Sequence[Comparison]
    prune: compare.Pruning | None
    stats: CacheStats = field(default_factory=CacheStats)
    _rows: pl.DataFrame | None = None
    _digest: str | None = None
    _columns: list[str] = field(default_factory=list)

    def compare(self, prepared: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
        """Exactly ``compare.compare(prepared, pairs, comparisons, prune)``, reusing cached pairs."""
        if self.folder is None:
            self.stats.pairs_computed = pairs.height
            return compare.compare(prepared, pairs, self.comparisons, self.prune)
        t0 = time.perf_counter()
        self._columns = compared_columns(self.comparisons)
        self._digest = settings_digest(self.comparisons, self.prune)
        self._rows = row_digests(prepared, self._columns)
        previous, self.stats.status = _attempt(lambda: _read(
            self.folder, _expected_meta(self._digest, self.comparisons, self._columns), self.comparisons))
        hit = np.zeros(pairs.height, dtype=bool)
        source = np.zeros(0, dtype=np.int64)
        old_pairs = None
        if previous is not None and pairs.height:
            old_rows, old_pairs = previous
            try:
                hit, source = self._lookup(pairs, old_rows, old_pairs["key"].to_numpy())
            except Exception as exc:  # noqa: BLE001 - e.g. duplicate offering ids in a hand-edited cache
                self.stats.status = f"ignored: {type(exc).__name__}: {exc}"
                hit, old_pairs = np.zeros(pairs.height, dtype=bool), None
        del previous
        self.stats.read_seconds = time.perf_counter() - t0
        n_hit = int(hit.sum())
        self.stats.pairs_reused = n_hit
        self.stats.pairs_computed = pairs.height - n_hit
        if old_pairs is None or n_hit == 0:
            return compare.compare(prepared, pairs, self.comparisons, self.prune)
        todo = pairs.filter(pl.Series(~hit))
        computed = compare.compare(prepared, todo, self.comparisons, self.prune)
        return _assemble(pairs, self.comparisons, old_pairs, hit, source, computed)

    def _lookup(self, pairs: pl.DataFrame, old_rows: pl.DataFrame, old_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(hit per pair, index of its old pair where hit)."""
        assert self._rows is not None
        # Old row id of every new row whose offering_id and digests are unchanged (else null).
        old_rid = self._rows.join(
            old_rows.with_row_index("old_rid"), on=["offering_id", "d0", "d1"], how="left",
            maintain_order="left", validate="m:1",
        )["old_rid"]
        if old_rid.len() != self._rows.height:
            raise _Ignored("row lookup changed the row count")
        self.stats.rows_unchanged = old_rid.len() - old_rid.null_count()
        keys = pl.DataFrame(
            {"old_l": old_rid.gather(pairs["rid_l"]), "old_r": old_rid.gather(pairs["rid_r"])}
        ).select(key=_pack("old_l", "old_r"))["key"]  # null when either row changed or is new
        both = keys.is_not_null().to_numpy()
        wanted = keys.drop_nulls().to_numpy()
        # old_keys is strictly increasing (checked on read): a binary search per pair.
        at = np.searchsorted(old_keys, wanted)
        found = np.zeros(len(wanted), dtype=bool)
        inside = at < len(old_keys)
        found[inside] = old_keys[at[inside]] == wanted[inside]
        hit = np.zeros(pairs.height, dtype=bool)
        hit[np.flatnonzero(both)[found]] = True
        return hit, at[found]

    def write(self, compared: pl.DataFrame) -> None:
        """Replace the cache by this run's rows and compared pairs (atomic; failures recorded)."""
        if self.folder is None or self._rows is None or self._digest is None:
            return
        t0 = time.perf_counter()
        try:
            pairs = compared.select(
                key=_pack("rid_l", "rid_r"),
                **{
                    compare.gamma_column(c): pl.col(compare.gamma_column(c)).to_physical().cast(pl.UInt8)
                    for c in self.comparisons
                },
            )
            keys = pairs["key"].to_numpy()
            if len(keys) > 1 and not bool((keys[1:] > keys[:-1]).all()):
                pairs = pairs.sort("key")  # blocking emits pairs in key order; kept sorted for the search
            del keys
            meta: dict[str, Any] = _expected_meta(self._digest, self.comparisons, self._columns)
            _replace_generation(self.folder, "compare", META, {"rows": self._rows, "pairs": pairs}, meta)
            self.stats.written = True
        except Exception as exc:  # noqa: BLE001 - a cache that cannot be written is only slower next time
            self.stats.write_error = f"{type(exc).__name__}: {exc}"
        finally:
            self.stats.write_seconds = time.perf_counter() - t0


def _replace_generation(folder: Path, kind: str, meta_name: str, parts: dict[str, pl.DataFrame],
                        meta: dict[str, Any], parquet: bool = False, carried: dict[str, Any] | None = None) -> None:
    """Write ``parts`` as ``<kind>-<part>-<token>.arrow`` (LZ4 Arrow IPC; with ``parquet``
    ``.parquet``, LZ4 Parquet: smaller and faster to read for wide string frames; each file is
    encoded in memory and hashed there, not read back), then ``meta_name`` naming them and the
    ``carried`` parts (their entries of the current ``meta_name``: files kept as they are) (with
    rows, bytes, sha256), each as a temp file renamed into place: a reader finds the old
    generation or the new one, never a mix. Then the old generation's files go, and files of
    crashed or concurrent writers once they are an hour old. On failure the files this call
    wrote are removed and the error raised."""
    token = f"{int(time.time())}-{os.getpid()}-{secrets.token_hex(4)}"
    folder.mkdir(parents=True, exist_ok=True)
    previous = _generation_files(folder, meta_name)
    carried = carried or {}
    meta.update(carried)
    written: list[Path] = []
    try:
        for part, frame in parts.items():
            name = f"{kind}-{part}-{token}.{'parquet' if parquet else 'arrow'}"
            tmp = folder / f".{name}.tmp"
            written.append(tmp)
            buffer = io.BytesIO()
            if parquet:
                frame.write_parquet(buffer, compression="lz4", statistics=False)
            else:
                frame.write_ipc(buffer, compression=_COMPRESSION)
            data = buffer.getvalue()
            del buffer
            tmp.write_bytes(data)
            final = folder / name
            os.replace(tmp, final)
            written.append(final)
            meta[part] = {"file": name, "n": frame.height, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            del data
        tmp_meta = folder / f".{meta_name}.{token}.tmp"
        written.append(tmp_meta)
        tmp_meta.write_text(json.dumps(meta, indent=1), encoding="utf-8")
        os.replace(tmp_meta, folder / meta_name)
    except BaseException:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        raise
    keep = {meta[part]["file"] for part in [*parts, *carried]}
    for old in previous:
        if old.name not in keep:
            with contextlib.suppress(OSError):
                old.unlink()
    now = time.time()
    for path in [*folder.glob(f"{kind}-*.arrow"), *folder.glob(f"{kind}-*.parquet"), *folder.glob(f".{kind}*.tmp")]:
        with contextlib.suppress(OSError):
            if path.name not in keep and now - path.stat().st_mtime > 3600.0:
                path.unlink()


def _generation_files(folder: Path, meta_name: str) -> list[Path]:
    """Data files the current ``meta_name`` names (removed once it is replaced, unless carried)."""
    try:
        meta = json.loads((folder / meta_name).read_text(encoding="utf-8"))
        names = [v["file"] for v in meta.values() if isinstance(v, dict) and "file" in v]
    except Exception:  # noqa: BLE001
        return []
    return [folder / n for n in names if isinstance(n, str) and "/" not in n]


# --- the prepare cache -----------------------------------------------------------------------
#
# ``prepare.prepare`` keeps, for the next run, its state rows: the prepared frame (offering_id
# order, without rid and the PASS_THROUGH columns such as fetched_at, which are taken from
# each run's offerings) plus per row two independently seeded 64-bit digests (d0, d1) of its
# key inputs (``prepare.KEY_INPUTS``, offering_id included), the string its title keys came
# from and that title's vocabulary facts, its title key's token ids and its two rarest tokens;
# and the corpus facts (``prepare.Corpus``: org table, provider vocabulary, provider names, the
# title keys' token vocabulary). The next run takes a row whose input digests are equal as it
# was, unless a corpus fact it depends on moved (``prepare._prepare_changed`` checks each), and
# works out the rest. The only way to reuse a wrong row is a 128-bit collision between a row's
# old and new inputs.
#
# The state rows are stored as ``base`` (rows written in full once), ``delta`` (rows of later
# runs that are not a base row as it is: new, changed or patched) and ``live`` (per state row
# in offering_id order, its row number in base followed by delta). A run that changed few rows
# writes only delta, live and the corpus facts and carries the base file over; once delta and
# the base rows no longer live pass a fifth of the base (``_COMPACT``), the base is rewritten.
#
# Files, next to the comparison cache's: ``prepare.json`` (format, digest of the text rules +
# code + Polars/Python versions, the input columns' types, and per part its file with size and
# SHA-256) and ``prepare-<part>-<token>.parquet`` for the parts base, delta, live, orgs, vocab,
# names and tokens; read, checked, ignored and written like ``compare.json``.

PREPARE_FORMAT = 2
PREPARE_META = "prepare.json"
_COMPACT = 0.2


def _canonical(value: Any) -> Any:
    """A JSON-able form of text rules that keeps every order the code may depend on."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _canonical(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):  # iteration order kept: replace_many and dict order use it
        return [[_canonical(k), _canonical(v)] for k, v in value.items()]
    if isinstance(value, (set, frozenset)):
        return sorted(json.dumps(_canonical(v)) for v in value)
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, float):
        return repr(value)
    if value is None or isinstance(value, (str, int, bool)):
        return value
    raise TypeError(f"cannot digest {type(value).__name__} in text rules")


def prepare_digest(rules: TextRules) -> str:
    """What, besides a row's inputs and the corpus facts, decides the cached rows: the text
    rules, this package's code and data, the library versions."""
    payload = {
        "format": PREPARE_FORMAT,
        "kind": "prepare",
        "rules": _canonical(rules),
        "code": code_digest(),
        "versions": {"polars": pl.__version__, "python": platform.python_version()},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _input_types(offerings: pl.DataFrame) -> dict[str, str]:
    """Type of every input column (the kept rows' types follow from them); KeyError if one is missing."""
    from normalize.dedup import prepare

    return {c: str(offerings.schema[c]) for c in prepare.INPUT_COLUMNS}


def _corpus_schemas() -> dict[str, pl.Schema]:
    s = pl.String()
    return {
        "orgs": pl.Schema({"value": s, "raw_org": s, "org": s, "org_sorted": s}),
        "vocab": pl.Schema({"name": s}),
        "names": pl.Schema({"org": s, "name": s}),
        "tokens": pl.Schema({"token": s}),
    }


_LIVE = pl.Schema({"row": pl.UInt32()})


@dataclass
class PrepareStats(_Stats):
    status: str = "disabled"  # disabled | absent | hit | ignored: <why>
    rows_reused: int = 0
    rows_computed: int = 0
    titles_reused: int = 0
    titles_computed: int = 0
    written: bool = False
    write_error: str | None = None
    read_seconds: float = 0.0
    write_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def _read_prepare(folder: Path, expected: dict[str, Any]) -> tuple[dict[str, Any], dict[str, pl.DataFrame]]:
    """The meta and parts of the previous run; raises FileNotFoundError or _Ignored."""
    from normalize.dedup import prepare

    meta, frames = _read_generation(
        folder, PREPARE_META, expected, {"base": None, "delta": None, "live": _LIVE, **_corpus_schemas()}
    )
    base, delta = frames["base"], frames["delta"]
    if base.columns != list(prepare.STATE_ROW_COLUMNS):
        raise _Ignored("unexpected columns in base")
    if delta.schema != base.schema:
        raise _Ignored("delta and base differ in columns")
    live = frames["live"]["row"]
    pool_height = base.height + delta.height
    if live.null_count() or (live.len() and int(live.max()) >= pool_height):  # type: ignore[arg-type]
        raise _Ignored("live rows out of range")
    at = live.cast(pl.Int64)
    ids = pl.concat([base["offering_id"], delta["offering_id"]], rechunk=False).gather(at)
    if ids.null_count():
        raise _Ignored("null keys in rows")
    # Kept rows are merged with the new ones in offering_id order.
    if ids.len() > 1 and not bool((ids.slice(1) > ids.slice(0, ids.len() - 1)).all()):
        raise _Ignored("rows not in strictly increasing offering_id order")
    for part, key in (("orgs", "value"), ("vocab", "name"), ("tokens", "token")):
        if frames[part][key].null_count() or frames[part][key].n_unique() != frames[part].height:
            raise _Ignored(f"null or repeated keys in {part}")
    return meta, frames


@dataclass
class PrepareCache:
    """One run's use of the cache folder for ``prepare``: ``load`` (by prepare: rules and the
    offerings; the previous run's rows and corpus facts, and this run's input digests), ``keep``
    (by prepare: this run's), then ``write``."""

    folder: Path
    stats: PrepareStats = field(default_factory=PrepareStats)
    digests: pl.DataFrame = field(default_factory=pl.DataFrame)
    _meta: dict[str, Any] | None = None
    _base: dict[str, Any] | None = None  # the previous generation's base: its meta entry and height
    _new: dict[str, pl.DataFrame] = field(default_factory=dict)
    _carried: dict[str, Any] = field(default_factory=dict)

    def load(self, rules: TextRules, offerings: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray, Any] | None:
        """This run's input digests ([d0, d1] in the offerings' row order) in ``digests``, and
        the previous run's (pool, live, prepare.Corpus): its state rows are ``pool[live]``
        (pool: base then delta), or None (absent or ignored: ``stats``)."""
        from normalize.dedup import prepare

        self._meta, self._base, self._new, self._carried = None, None, {}, {}
        self.digests = row_digests(offerings, prepare.KEY_INPUTS).drop("offering_id")
        t0 = time.perf_counter()

        def read() -> tuple[dict[str, Any], dict[str, pl.DataFrame]]:
            self._meta = {"format": PREPARE_FORMAT, "digest": prepare_digest(rules), "inputs": _input_types(offerings)}
            return _read_prepare(self.folder, self._meta)

        previous, self.stats.status = _attempt(read)
        self.stats.read_seconds = time.perf_counter() - t0
        if previous is None:
            return None
        meta, frames = previous
        self._base = {"info": meta["base"], "height": frames["base"].height}
        corpus = prepare.Corpus(
            orgs=frames["orgs"], vocab=frames["vocab"]["name"].to_list(), names=frames["names"],
            tokens=frames["tokens"]["token"],
        )
        pool = pl.concat([frames["base"], frames["delta"]], how="vertical", rechunk=False)
        return pool, frames["live"]["row"].to_numpy().astype(np.int64), corpus

    def keep(self, rows: pl.DataFrame, corpus: Any, origin: np.ndarray | None = None) -> None:
        """This run's state rows and corpus facts, for ``write``. ``origin``: per row, the row
        of the loaded pool it equals (-1: none); rows equal to a base row are not written again
        while the base is carried over (see above)."""
        corpus_parts = {
            "orgs": corpus.orgs.select(_corpus_schemas()["orgs"].names()),
            "vocab": pl.DataFrame({"name": corpus.vocab}, schema=_corpus_schemas()["vocab"]),
            "names": corpus.names,
            "tokens": corpus.tokens.rename("token").to_frame(),
        }
        self._carried = {}
        if origin is not None and self._base is not None and len(origin) == rows.height:
            n_base = self._base["height"]
            in_base = (origin >= 0) & (origin < n_base)
            fresh = int((~in_base).sum())
            dead = n_base - int(in_base.sum())
            if fresh + dead <= _COMPACT * n_base:
                live = np.empty(rows.height, dtype=np.int64)
                live[in_base] = origin[in_base]
                live[~in_base] = n_base + np.arange(fresh)
                self._carried = {"base": self._base["info"]}
                self._new = {
                    "delta": rows.filter(pl.Series(~in_base)),
                    "live": pl.DataFrame({"row": pl.Series(live, dtype=pl.UInt32)}),
                    **corpus_parts,
                }
                self.stats.extra["written_rows"] = fresh
                return
        self._new = {
            "base": rows,
            "delta": rows.clear(),
            "live": pl.DataFrame({"row": pl.int_range(rows.height, dtype=pl.UInt32, eager=True)}),
            **corpus_parts,
        }
        self.stats.extra["written_rows"] = rows.height

    def write(self) -> None:
        """Replace the cache by this run's rows and corpus facts (atomic; failures recorded, never raised)."""
        if self._meta is None or not self._new:
            return
        t0 = time.perf_counter()
        try:
            for part, schema in _corpus_schemas().items():
                if self._new[part].schema != schema:
                    raise ValueError(f"{part}: unexpected schema {self._new[part].schema}")
            _replace_generation(self.folder, "prepare", PREPARE_META, self._new, dict(self._meta), parquet=True,
                                carried=self._carried)
            self.stats.written = True
        except Exception as exc:  # noqa: BLE001 - a cache that cannot be written is only slower next time
            self.stats.write_error = f"{type(exc).__name__}: {exc}"
        finally:
            self._new, self._carried = {}, {}
            self.stats.write_seconds = time.perf_counter() - t0
