"""credcat's Dagster definitions, discovered by ``dg.load_from_defs_folder``."""
