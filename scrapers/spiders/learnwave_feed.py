"""LearnWave: a MOOC platform's edX-style course feed (RSS 2.0, course: namespace)."""

from typing import Any

from scrapy.http import Response

from scrapers.base.rss_feed import RssFeedSpider


class LearnwaveFeedSpider(RssFeedSpider):
    name = "learnwave_feed"
    key_path = "course_id"
    field_map = {
        "title": "title",
        "description": "summary",
        "url": "link",
        "awarding_body": "course_school",
        "credential_type_raw": "course_credential",
        "subjects": "course_subject",
        "workload_raw": "course_effort",
        "duration_raw": "course_length",
        "prices": "course_price",
        "start_dates_raw": "course_start",
        "prerequisites_raw": "course_prerequisites",
    }

    def record(self, response: Response, obj: Any) -> dict[str, Any] | None:
        fields = super().record(response, obj)
        if obj.get("course_self_paced") not in (None, ""):
            # "0"/"1" means something only with its element's name: keep them together.
            fields["timing_raw"] = f"self_paced={obj['course_self_paced']}"
        return fields
