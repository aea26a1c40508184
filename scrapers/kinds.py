"""The spider kinds: one shared reader per format, each with a generic spider of the same
name, so a registry entry (kind + options + field_map) is all a new source of a known format
needs. `credcat kinds` prints this index."""

KINDS: dict[str, str] = {
    "json_api": "Paginated JSON APIs (edX, Udemy, Udacity ...): results path(s) or objects keyed by id, next link (URL or HAL/JSON:API link object) or page numbers, field map; XSSI/JSONP wrappers and UTF-16/32 bodies read",
    "rss_feed": "RSS/Atom course feeds, namespaced fields kept with their attributes (edX course-feed course:*), next links or ?page=N (ends when a page brings nothing new), entries without guid keyed by link",
    "file_drop": "CSV, TSV, JSON and JSON Lines files with a declared field mapping: configuration, no code; delimiter, encoding and format found when not declared, unreadable rows kept as rejects",
    "sitemap_jsonld": "Sites with a sitemap (XML, gzip, index or text) and schema.org JSON-LD pages (EducationalOccupationalProgram, Course ..., also in ItemLists), tolerant of broken blocks",
    "courseleaf": "CourseLeaf university catalogs: subject index and courseblock listings (code, title, credits, description)",
    "ctdl_registry": "Credential Registry CTDL JSON-LD: envelopes, @graph, language maps, cost and duration profiles, organizations",
    "html_pages": "Listing -> detail HTML sites configured by CSS selectors and label/value facts (associations, vendors)",
    "linked_json": "Id-linked JSON dumps (entity lists joined by id references, e.g. Coursera 2013 catalog): record list, lookups, back references",
    "openbadges": "Open Badges 3.0 / 2.0 credentials, presentations, VC-JWTs and JWS JSON: one offering per Achievement (BadgeClass); hosted badges and issuers given by URL are fetched",
    "classcentral": "Course-aggregator page family (Class Central): course pages (Course JSON-LD + details list), listing cards, report-article credential lists, index pages",
    "plain_page": "A single course/program page without structured data, read by heuristics: title, description, labelled facts, money/hours/length in text",
}
