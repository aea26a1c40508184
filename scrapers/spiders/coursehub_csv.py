"""CourseHub: an aggregator's CSV export. Columns and key are declared in sources.toml."""

from scrapers.base.file_drop import FileDropSpider


class CoursehubCsvSpider(FileDropSpider):
    name = "coursehub_csv"
