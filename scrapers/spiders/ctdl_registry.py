"""The generic ctdl_registry spider: a registry entry with `spider = "ctdl_registry"` and its options."""

from scrapers.base.ctdl_registry import CtdlRegistrySpider


class GenericCtdlRegistrySpider(CtdlRegistrySpider):
    name = "ctdl_registry"
