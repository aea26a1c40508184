"""Scrapy settings shared by every credcat spider (politeness, retries, landing)."""

BOT_NAME = "credcat"
SPIDER_MODULES = ["scrapers.spiders"]
NEWSPIDER_MODULE = "scrapers.spiders"
USER_AGENT = "credcat/0.1 (+https://github.com/credcat; catalog indexer)"

ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_DELAY = 0.0
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024  # cap a response: no page of a catalog is this big
DOWNLOAD_WARNSIZE = 8 * 1024 * 1024
AUTOTHROTTLE_ENABLED = False
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"

# Retries: the stock middleware is replaced by one that honours Retry-After and backs off.
RETRY_ENABLED = True
RETRY_TIMES = 4
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
CREDCAT_BACKOFF_BASE = 0.5  # seconds; doubles per retry, with jitter
CREDCAT_BACKOFF_MAX = 30.0
CREDCAT_RETRY_AFTER_MAX = 120.0
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "scrapers.middlewares.BackoffRetryMiddleware": 550,
    "scrapers.middlewares.LocalOnlyMiddleware": 50,
    "scrapers.middlewares.RedirectGuardMiddleware": 610,
    "scrapers.middlewares.ContentGuardMiddleware": 560,
    "scrapers.middlewares.SourceHeadersMiddleware": 450,
}
REDIRECT_MAX_TIMES = 5  # a catalog page is never more than a few hops away
ITEM_PIPELINES = {
    "scrapers.pipelines.LandingPipeline": 900,
}
EXTENSIONS = {
    "scrapers.extensions.CrawlStatsWriter": 500,
}
# Where items land: CREDCAT_LANDING_DIR/<source>/<run_id>/ (set by the crawl runner).
CREDCAT_LANDING_DIR = "data/landing"
CREDCAT_RUN_ID = ""
