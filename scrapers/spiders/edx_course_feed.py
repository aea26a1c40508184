"""edX's course feed (``/api/v2/report/course-feed/rss``): RSS 2.0 with the ``course:`` namespace.

Each item is a course run: ``course:id`` (run key), ``code``, ``start``/``end``, ``school``,
``subject`` (comma-separated), ``effort``, ``length``, ``prerequisites`` and 0/1 flags.
Flags mean something only with their element's name, so they are kept with it:
``self_paced`` becomes ``timing_raw = "self_paced=0"``, and ``verified=1`` (a verified
certificate is offered) ``credential_type_raw = "verified certificate"``; ``xseries`` and
``profed`` (the run belongs to an XSeries / is professional education) stay in the payload.
"""

from typing import Any

from scrapy.http import Response

from scrapers.base.rss_feed import RssFeedSpider


class EdxCourseFeedSpider(RssFeedSpider):
    name = "edx_course_feed"
    key_path = "course_id"
    field_map = {  # noqa: RUF012
        "title": "title",
        "description": "summary",
        "url": "link",
        "awarding_body": "course_school",
        "subjects": "course_subject",
        "workload_raw": "course_effort",
        "duration_raw": "course_length",
        "start_dates_raw": "course_start",
        "prerequisites_raw": "course_prerequisites",
    }

    def record(self, response: Response, obj: Any) -> dict[str, Any] | None:
        fields = super().record(response, obj)
        subjects = obj.get("course_subject")
        if isinstance(subjects, str):  # one element, a comma-separated list
            fields["subjects"] = [s.strip() for s in subjects.split(",") if s.strip()]
        if (obj.get("course_self_paced") or "").strip():
            fields["timing_raw"] = f"self_paced={obj['course_self_paced'].strip()}"
        if (obj.get("course_verified") or "").strip() == "1":
            fields["credential_type_raw"] = "verified certificate"
        return fields
