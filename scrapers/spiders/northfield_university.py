"""Northfield University: sitemap index -> program pages, one EducationalOccupationalProgram each."""

from scrapers.base.sitemap_jsonld import SitemapJsonLdSpider


class NorthfieldUniversitySpider(SitemapJsonLdSpider):
    name = "northfield_university"
    page_url_pattern = r"/programs/[^/]+/$"
    item_types = ("EducationalOccupationalProgram",)
    one_offering_per_page = True
    site_org_is_provider = True
    # Read when a page's program block is broken: the "Program at a glance" list.
    facts_css = "dl.program-facts"
    facts_map = {
        "credential": "credential_type_raw", "length": "duration_raw", "format": "modality_raw",
        "schedule": "timing_raw", "language of instruction": "language_raw", "tuition": "prices",
        "credits": "credits_raw", "next start": "start_dates_raw",
    }
