"""OpenCourse: a MOOC platform's edX-style Course API (LMS fields + Discovery fields)."""

from typing import Any

from scrapy.http import Response

from scrapers.base.json_api import JsonApiSpider


class OpencourseApiSpider(JsonApiSpider):
    name = "opencourse_api"
    results_path = "results"
    next_path = "pagination.next"
    key_path = "id"
    field_map = {
        "title": "name",
        "description": "short_description",
        "awarding_body": ["owners.0.name", "org"],
        "credential_type_raw": "program_type",
        "subjects": "subjects.*.name",
        "level_raw": "level_type",
        "workload_raw": "effort",
        "language_raw": "content_language",
        "timing_raw": "pacing",
        "start_dates_raw": "start",
    }

    def record(self, response: Response, obj: Any) -> dict[str, Any] | None:
        fields = super().record(response, obj)
        weeks = obj.get("weeks_to_complete")
        if weeks is not None:  # the unit is in the field's name; keep it with the number
            fields["duration_raw"] = f"{weeks} weeks"
        seats = obj.get("seats") or []
        fields["prices"] = [{"amount": s.get("price"), "currency": s.get("currency"), "label": s.get("type")}
                            for s in seats if isinstance(s, dict)]
        return fields
