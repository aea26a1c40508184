"""The generic classcentral spider: a registry entry with `spider = "classcentral"` and its options."""

from scrapers.base.classcentral import ClassCentralSpider


class GenericClassCentralSpider(ClassCentralSpider):
    name = "classcentral"
