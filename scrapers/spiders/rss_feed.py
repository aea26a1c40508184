"""The generic rss_feed spider: a registry entry with `spider = "rss_feed"` and its options."""

from scrapers.base.rss_feed import RssFeedSpider


class GenericRssFeedSpider(RssFeedSpider):
    name = "rss_feed"
