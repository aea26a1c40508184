"""International Association of Data Practitioners: certification listing -> certification pages."""

from scrapers.base.html_pages import HtmlPagesSpider


class IadpCertificationsSpider(HtmlPagesSpider):
    name = "iadp_certifications"
    listing_link_css = "ul.cert-list a::attr(href)"
    detail_url_pattern = r"/certifications/[^/]+\.html$"
    record_kind_raw = "certification"
    field_css = {
        "title": ("article h1", "h1"),
        "description": ("article p.lead",),
        "awarding_body": ('meta[property="og:site_name"]::attr(content)',),
        "country_raw": ("footer address .country::text",),
        "quality_assurance_raw": ("article p.accreditation",),
    }
    facts_css = "article"
    facts_map = {
        "exam fee": "prices", "examination fee": "prices", "fee": "prices", "retake fee": "prices",
        "exam format": "assessment_raw", "eligibility": "prerequisites_raw", "delivery": "modality_raw",
        "domains covered": "skills", "exam domains": "skills", "field": "subjects", "practice area": "subjects",
        "typical preparation time": "duration_raw", "study effort": "workload_raw", "language": "language_raw",
        "credential type": "credential_type_raw", "type": "credential_type_raw",
        "accreditation": "quality_assurance_raw",
    }
