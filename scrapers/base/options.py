"""Kind options for the page-reading kinds: class attributes a registry entry may set.

The declarative kinds (``records.RecordSpider``) have their own; the HTML kinds (courseleaf,
classcentral, plain_page) declare ``option_names`` and call ``apply_options`` at start, so a
registry entry's ``options = {...}`` sets those attributes and an unknown option fails the
spider at start rather than being ignored.
"""

from __future__ import annotations

from typing import Any


def apply_options(spider: Any, names: frozenset[str]) -> None:
    options = dict(spider.source_cfg.options)
    unknown = sorted(set(options) - names)
    if unknown:
        raise ValueError(f"source {spider.source_name}: options {unknown} are not options of kind "
                         f"{spider.kind} (known: {sorted(names)})")
    for name, value in options.items():
        current = getattr(type(spider), name, None)
        if isinstance(current, tuple) and isinstance(value, list):
            value = tuple(value)
        setattr(spider, name, value)


def apply_field_map(spider: Any, attribute: str = "field_paths") -> None:
    """The registry's ``field_map`` (RawOffering field -> property path, or paths tried in order)
    over a JSON-LD kind's own ``field_paths`` (sitemap_jsonld, ctdl_registry): a field mapped
    there replaces the kind's paths for that field."""
    from scrapers.base.fields import check_field_map

    cfg = spider.source_cfg
    if not cfg.field_map:
        return
    check_field_map(cfg.field_map, f"source {cfg.name}")
    paths = dict(getattr(spider, attribute))
    for field, value in cfg.field_map.items():
        paths[field] = (value,) if isinstance(value, str) else tuple(value)
    setattr(spider, attribute, paths)
