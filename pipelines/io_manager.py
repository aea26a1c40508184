"""An IO manager for credcat's assets: Polars frames as Parquet, small dicts as JSON.

Frames pass between assets as Parquet under <data>/runtime/io, which is cheaper and more
inspectable than pickles, and keeps the last materialization of each asset on disk.

An output replaces the previous one whole or not at all: it is written under a temporary name
beside it (``.<name>.<token>.tmp...``) and moved into place by rename; a folder of frames by an
atomic exchange of the two folders (Linux ``renameat2(RENAME_EXCHANGE)``; elsewhere two
renames, with a moment where the folder is absent). A run that fails or is killed while writing
leaves the previous output as it was (and a temporary entry, removed by a later write of the
same asset once it is ``STALE_TEMP_S`` old), and a reader never sees half of an output.

A folder's frame handed over as a ``pipelines.frames.Derived`` (a re-crawl's staging frames:
mostly the previous output's rows) may be stored as a patch on the previous output's file,
hard-linked into the new folder before the exchange; readers get the same frame
(pipelines/frames.py).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from pipelines.frames import Derived, FrameFolder, write_folder, write_frame
from pipelines.runtime import DataPaths

# The resource key of the input manager for optional inputs: an asset never materialized
# loads as None (another source's staging, in a run of one source).
OPTIONAL_INPUT = "optional_input"


class CredcatIOManager(dg.ConfigurableIOManager):
    data_dir: str | None = None
    missing_ok: bool = False

    @staticmethod
    def _exists(base: Path) -> bool:
        return base.with_suffix(".parquet").exists() or base.is_dir() or base.with_suffix(".json").exists()

    def _base(self, context: dg.OutputContext | dg.InputContext) -> Path:
        key = context.asset_key if context.has_asset_key else dg.AssetKey([context.step_key or "op", context.name or "result"])
        return DataPaths.from_env(self.data_dir).io.joinpath(*key.path)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        base = self._base(context)
        base.parent.mkdir(parents=True, exist_ok=True)
        _sweep_stale(base)
        if isinstance(obj, pl.DataFrame):
            _replace_file(base.with_suffix(".parquet"), lambda path: write_frame(obj, path))
            _discard(base, keep=".parquet")
        elif isinstance(obj, dict) and obj and all(isinstance(v, pl.DataFrame | Derived) for v in obj.values()):
            stored = _replace_folder(base, obj)
            _discard(base, keep="")
            if any(how == "patch" for how in stored.values()):
                context.log.debug(f"{base.name}: frames stored as patches on the previous output: "
                                  f"{sorted(n for n, how in stored.items() if how == 'patch')}")
        else:
            _replace_file(base.with_suffix(".json"),
                          lambda path: Path(path).write_text(json.dumps(obj, indent=1, default=str)))
            _discard(base, keep=".json")

    def load_input(self, context: dg.InputContext) -> Any:
        base = self._base(context)
        if self.missing_ok and not self._exists(base):
            # An optional input (another source's staging, in a run of one source) that was
            # never materialized: the asset works with the sources it has.
            return None
        if base.with_suffix(".parquet").exists():
            return pl.read_parquet(base.with_suffix(".parquet"))
        if base.is_dir():
            return FrameFolder(base)  # each frame read when the asset first uses it
        if base.with_suffix(".json").exists():
            return json.loads(base.with_suffix(".json").read_text())
        raise FileNotFoundError(f"{context.asset_key.to_user_string()} has not been materialized yet ({base})")


# --- replacing an output whole ------------------------------------------------------------------

STALE_TEMP_S = 6 * 3600  # a temporary entry this old is a killed write's leftover, not a write in progress
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _temp(base: Path, suffix: str) -> Path:
    return base.with_name(f".{base.name}.{uuid.uuid4().hex[:12]}.tmp{suffix}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _sweep_stale(base: Path) -> None:
    """Remove temporary entries of ``base`` left by killed writes (older than STALE_TEMP_S);
    younger ones may be another run's write in progress."""
    cutoff = time.time() - STALE_TEMP_S
    for leftover in base.parent.glob(f".{base.name}.*.tmp*"):
        try:
            if leftover.lstat().st_mtime < cutoff:
                _remove(leftover)
        except FileNotFoundError:
            pass


def _discard(base: Path, keep: str) -> None:
    """Remove the asset's outputs of the other kinds (``keep``: the suffix just written, "" for
    the folder)."""
    for suffix in (".parquet", ".json", ""):
        if suffix != keep:
            _remove(base.with_suffix(suffix) if suffix else base)


def _replace_file(path: Path, write: Any) -> None:
    """``write(temp)`` then rename the temp file over ``path`` (atomic)."""
    temp = _temp(path, path.suffix)
    try:
        write(temp)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directory entries atomically (Linux renameat2 RENAME_EXCHANGE); False where
    the platform or file system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), f"{a} <-> {b}")


def _replace_folder(base: Path, frames: dict[str, pl.DataFrame | Derived]) -> dict[str, str]:
    """Write every frame into a temporary folder (``write_folder``: a ``Derived`` frame as a
    patch on the previous output's file when that pays), then put it in place of ``base``.
    Returns how each frame was stored."""
    temp = _temp(base, "")
    try:
        temp.mkdir()
        stored = write_folder(frames, temp)
        if not base.is_dir():
            _remove(base)
            os.rename(temp, base)
            return stored
        if not _exchange(temp, base):
            old = _temp(base, ".old")
            os.rename(base, old)
            os.rename(temp, base)
            temp = old
    except BaseException:
        _remove(temp)
        raise
    _remove(temp)  # the previous output, now under the temporary name (a base linked from it stays)
    return stored
