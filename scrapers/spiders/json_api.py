"""The generic json_api spider: a registry entry with `spider = "json_api"` and its options."""

from scrapers.base.json_api import JsonApiSpider


class GenericJsonApiSpider(JsonApiSpider):
    name = "json_api"
