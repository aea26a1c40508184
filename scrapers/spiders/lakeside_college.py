"""Lakeside Community College: a CourseLeaf catalog (Courses A-Z and Programs A-Z)."""

from scrapers.base.courseleaf import CourseLeafSpider


class LakesideCollegeSpider(CourseLeafSpider):
    name = "lakeside_college"
    # The footer's postal address says where the college is.
    page_field_css = {**CourseLeafSpider.page_field_css,
                      "country_raw": ('#footer [itemprop="addressCountry"]::text',)}
    program_field_css = {**CourseLeafSpider.program_field_css,
                         "credit_unit_raw": ("table.sc_courselist th.hourscol::text",)}
