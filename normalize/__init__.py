"""Normalization: raw catalog records -> offerings mapped onto the standard taxonomy.

- ``normalize.schema``: the canonical records (RawOffering, Offering, Credential, Reject) and
  their Polars schemas; the only module other packages import from here besides the entry
  points below.
- ``normalize.taxonomy``: the vocabularies of shared/TAXONOMY.md as validated data tables.
- ``normalize.expressions``: ``pl.Expr`` builders that clean and parse raw values.
- ``normalize.transforms``: ``read_landing`` and ``normalize`` (LazyFrame steps).
- ``normalize.dedup``: matching offerings into credentials.

Nothing is imported here, so ``import normalize.schema`` stays light for the spiders.
"""
