"""The generic file-drop spider: any registry entry with ``spider = "file_drop"``.

A new file drop needs no code: its table in sources.toml declares the file's URL, columns
(``field_map``) and reading options; the crawl runner passes ``-a source=<name>``.
"""

from scrapers.base.file_drop import FileDropSpider


class GenericFileDropSpider(FileDropSpider):
    name = "file_drop"
