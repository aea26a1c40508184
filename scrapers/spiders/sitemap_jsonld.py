"""The generic sitemap_jsonld spider: a registry entry with `spider = "sitemap_jsonld"` and its options."""

from scrapers.base.sitemap_jsonld import SitemapJsonLdSpider


class GenericSitemapJsonLdSpider(SitemapJsonLdSpider):
    name = "sitemap_jsonld"
