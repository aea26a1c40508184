"""SkillMarket: a course marketplace's Udemy-style API 2.0 (/api-2.0/courses/)."""

from typing import Any

from scrapy.http import Response

from scrapers.base.json_api import JsonApiSpider


class SkillmarketApiSpider(JsonApiSpider):
    name = "skillmarket_api"
    results_path = "results"
    next_path = "next"
    key_path = "id"
    record_url_base = "https://skillmarket.example.com"  # course urls are relative to the site
    field_map = {
        "record_kind_raw": "_class",
        "title": "title",
        "description": "headline",
        "url": "url",
        "awarding_body": "visible_instructors.0.display_name",
        "subjects": ["primary_category.title", "primary_subcategory.title"],
        "level_raw": "instructional_level",
        "workload_raw": "content_info",
        "language_raw": "locale.locale",
        "rating_raw": "avg_rating",
        "rating_count_raw": "num_reviews",
        "enrolment_raw": "num_subscribers",
    }

    def record(self, response: Response, obj: Any) -> dict[str, Any] | None:
        fields = super().record(response, obj)
        detail = obj.get("price_detail") or {}
        if obj.get("price") is not None or detail:
            fields["prices"] = [{"text": obj.get("price"), "amount": detail.get("amount"),
                                 "currency": detail.get("currency")}]
        return fields
