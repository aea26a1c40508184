"""The spider kinds: one shared reader per format, each with a generic spider of the same
name, so a registry entry (kind + options + field_map) is all a new source of a known format
needs. `credcat kinds` prints this index."""

KINDS: dict[str, str] = {
    "json_api": "Paginated JSON APIs (edX, Udemy, Udacity ...): results path(s), next link or page numbers, field map",
    "rss_feed": "RSS/Atom course feeds, namespaced fields kept (edX course-feed course:*), next links or ?page=N",
    "file_drop": "CSV, JSON and JSON Lines files with a declared field mapping: configuration, no code",
    "sitemap_jsonld": "Sites with a sitemap and schema.org JSON-LD pages (EducationalOccupationalProgram, Course ...), tolerant of broken blocks",
    "courseleaf": "CourseLeaf university catalogs: subject index and courseblock listings (code, title, credits, description)",
    "ctdl_registry": "Credential Registry CTDL JSON-LD: envelopes, @graph, language maps, cost and duration profiles, organizations",
    "html_pages": "Listing -> detail HTML sites configured by CSS selectors and label/value facts (associations, vendors)",
}
