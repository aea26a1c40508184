"""The generic plain_page spider: a registry entry with `spider = "plain_page"` and its options."""

from scrapers.base.plain_page import PlainPageSpider


class GenericPlainPageSpider(PlainPageSpider):
    name = "plain_page"
