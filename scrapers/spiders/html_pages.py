"""The generic html_pages spider: a registry entry with `spider = "html_pages"` and its options."""

from scrapers.base.html_pages import HtmlPagesSpider


class GenericHtmlPagesSpider(HtmlPagesSpider):
    name = "html_pages"
