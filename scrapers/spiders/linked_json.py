"""The generic linked_json spider: a registry entry with `spider = "linked_json"` and its options."""

from scrapers.base.linked_json import LinkedJsonSpider


class GenericLinkedJsonSpider(LinkedJsonSpider):
    name = "linked_json"
