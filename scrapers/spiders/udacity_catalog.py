"""Udacity's public catalog API v0 (``/public-api/v0/courses``): ``courses``, ``degrees``, ``tracks``.

- ``courses`` are learning opportunities; ``degrees`` are Nanodegrees (credentials: Udacity's
  label for everything in that list, so ``credential_type_raw = "Nanodegree"``).
- A course names the degrees it is part of in ``related_degree_keys`` (as given; the real API
  repeats a key thousands of times); the degree record does not list its courses. Both ends
  of the relation are kept in the payload, deduplicated, beside the source's fields:
  ``_part_of`` (course -> degree keys) and ``_has_part`` (degree -> course keys).
- ``tracks`` are groupings (name, description, course keys), not offerings: they are not
  emitted; every course and degree already names its tracks in ``tracks``, which become its
  subjects.
- ``affiliates`` (Google, GitHub ...) are the industry partners who built a course with
  Udacity, not its owner: they stay in the payload; the awarding body is left unstated
  (the platform, Udacity, is the source's ``platform``).
- ``expected_duration`` + ``expected_duration_unit`` make ``duration_raw`` ("6 months"); a
  zero or unit-less duration says nothing and is left out.
"""

from typing import Any

from scrapy.http import Response

from scrapers.base.json_api import JsonApiSpider


class UdacityCatalogSpider(JsonApiSpider):
    name = "udacity_catalog"
    results_path = ["courses", "degrees"]  # noqa: RUF012
    results_kinds = ["course", "degree"]  # noqa: RUF012
    next_path = None
    key_path = "key"
    field_map = {  # noqa: RUF012
        "title": "title",
        "description": ["summary", "short_summary"],
        "url": "homepage",
        "subjects": "tracks",
        "level_raw": "level",
        "prerequisites_raw": "required_knowledge",
        "learning_outcomes": "expected_learning",
    }

    def results_with_paths(self, data: Any) -> tuple[list[tuple[str, Any]], bool]:
        records, found = super().results_with_paths(data)
        has_part: dict[str, list[str]] = {}
        for path, obj in records:
            if path == "courses" and isinstance(obj, dict):
                part_of = list(dict.fromkeys(str(k) for k in obj.get("related_degree_keys") or []))
                obj["_part_of"] = part_of
                for degree in part_of:
                    has_part.setdefault(degree, [])
                    if obj.get("key") not in has_part[degree]:
                        has_part[degree].append(obj.get("key"))
        for path, obj in records:
            if path == "degrees" and isinstance(obj, dict):
                obj["_has_part"] = has_part.get(str(obj.get("key")), [])
        return records, found

    def record(self, response: Response, obj: Any) -> dict[str, Any] | None:
        fields = super().record(response, obj)
        if self.results_origin == "degrees":
            fields["credential_type_raw"] = "Nanodegree"
        amount, unit = obj.get("expected_duration"), obj.get("expected_duration_unit")
        if amount and unit:
            fields["duration_raw"] = f"{amount} {unit}"
        return fields
