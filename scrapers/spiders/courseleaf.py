"""The generic courseleaf spider: a registry entry with `spider = "courseleaf"` and its options."""

from scrapers.base.courseleaf import CourseLeafSpider


class GenericCourseLeafSpider(CourseLeafSpider):
    name = "courseleaf"
