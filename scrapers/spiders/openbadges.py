"""The generic openbadges spider: a registry entry with `spider = "openbadges"` and its options."""

from scrapers.base.openbadges import OpenBadgesSpider


class GenericOpenBadgesSpider(OpenBadgesSpider):
    name = "openbadges"
