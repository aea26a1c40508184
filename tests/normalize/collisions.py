"""Every Series hash alike, so code that compares 64-bit hashes first takes its exact path."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import polars as pl
import pytest


@contextmanager
def hashing(collide: bool) -> Iterator[None]:
    """Polars' hashes, or (``collide``) every value hashing alike (``Series.hash`` and
    ``DataFrame.hash_rows``), so every check takes its exact path after the hashes."""
    with pytest.MonkeyPatch.context() as mp:
        if collide:
            mp.setattr(pl.Series, "hash", lambda self, *a, **k: pl.Series(self.name, [7] * len(self), pl.UInt64))
            mp.setattr(pl.DataFrame, "hash_rows", lambda self, *a, **k: pl.Series("", [7] * self.height, pl.UInt64))
        yield
