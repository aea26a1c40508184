"""Coursera's 2013 catalog API (id-linked): topics = courses, sessions (``courses``) = runs.

A session states its start as three numbers (``start_year``, ``start_month``, ``start_day``,
the day or all three may be null) and its length as ``duration_string``. The hook writes
the numbers as one ISO date (``2012-04-23``; ``2013-06`` when the day is not set) and takes
the length of the first session that states one.
"""

from typing import Any

from scrapy.http import Response

from scrapers.base.linked_json import LinkedJsonSpider


class CourseraCatalog2013Spider(LinkedJsonSpider):
    name = "coursera_catalog_2013"
    records_path = "topics"
    key_path = "id"
    lookups = ["unis=unis.id", "cats=cats.id", "insts=insts.instructor_id"]  # noqa: RUF012
    backrefs = ["sessions=courses.topic_id"]  # noqa: RUF012
    field_map = {  # noqa: RUF012
        "title": "name",
        "awarding_body": "_linked.unis.*.name",
        "subjects": "_linked.cats.*.name",
        "language_raw": "language",
    }

    def record(self, response: Response, obj: Any) -> dict[str, Any] | None:
        fields = super().record(response, obj)
        sessions = [s for s in (obj.get(self.linked_key) or {}).get("sessions", []) if isinstance(s, dict)]
        starts = [session_start(s) for s in sessions]
        fields["start_dates_raw"] = [s for s in starts if s]
        fields["duration_raw"] = next((s["duration_string"] for s in sessions if s.get("duration_string")), None)
        return fields


def session_start(session: dict[str, Any]) -> str | None:
    y, m, d = session.get("start_year"), session.get("start_month"), session.get("start_day")
    if not isinstance(y, int) or not isinstance(m, int):
        return None
    return f"{y:04d}-{m:02d}-{d:02d}" if isinstance(d, int) else f"{y:04d}-{m:02d}"
