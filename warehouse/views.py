"""Analyst views in ``marts``: the questions asked every week, answered once, with comments.

Each view is a spec (name, comment, SQL, column notes); ``warehouse.ddl.ensure_views`` creates
them with ``CREATE OR REPLACE VIEW`` on every ``ensure_schema`` (idempotent), comments the
view and every column (the notes here, else the shared ``COLUMN_NOTES``), and the tests check
that nothing in ``marts`` is left without one. Views read only marts tables (and
``staging.rejects`` for quality), so they always agree with the tables of the same run.
Documented for analysts, with example queries, in ``docs/analysts.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class View:
    """One analyst view: its name in ``marts``, its comment, its SELECT and column notes."""

    name: str
    comment: str
    sql: str
    notes: Mapping[str, str] = field(default_factory=dict)


# Key fields whose mapped share v_quality_by_source reports: (column, SQL test "is mapped").
KEY_FIELDS: tuple[tuple[str, str], ...] = (
    ("description", "description IS NOT NULL"),
    ("awarding_body", "awarding_body IS NOT NULL"),
    ("credential_type", "credential_type IS NOT NULL"),
    ("isced_codes", "len(isced_codes) > 0"),
    ("skills", "len(skills) > 0"),
    ("country", "country IS NOT NULL"),
    ("language", "language IS NOT NULL"),
    ("eqf_level", "eqf_level IS NOT NULL"),
    ("workload", "workload_hours_min IS NOT NULL"),
    ("ects", "ects IS NOT NULL"),
    ("modality", "modality IS NOT NULL"),
    ("price", "price_usd IS NOT NULL OR is_free"),
    ("assessment_type", "assessment_type IS NOT NULL"),
    ("learning_outcomes", "len(learning_outcomes) > 0"),
)

V_CURRENT_CREDENTIALS = View(
    "v_current_credentials",
    "Current credentials (those with at least one current offering) with their listings: one "
    "row per credential, its surviving values from dim_credential, and `listings`, one struct "
    "per current member offering (source, url, platform, title, price).",
    """
SELECT c.credential_id, c.title, c.awarding_body, c.credential_type, c.provider_kind,
       c.country, c.language, c.isced_codes, c.eqf_level, c.ects, c.modality,
       c.price_usd_min, c.price_usd_max, c.is_free, c.n_offerings, c.n_sources, c.sources,
       l.listings
FROM marts.dim_credential AS c
JOIN (
  SELECT credential_id,
         list(struct_pack(offering_id := offering_id, source := source, url := url,
                          platform := platform, title := title, price_amount := price_amount,
                          price_currency := price_currency, price_usd := price_usd,
                          is_free := is_free, free_to_audit := free_to_audit)
              ORDER BY source, offering_id) AS listings
  FROM marts.fct_offering
  WHERE credential_id IS NOT NULL
  GROUP BY credential_id
) AS l USING (credential_id)
""",
    {
        "listings": "Current member offerings of the credential, ordered by source: struct of "
                    "offering_id, source, url, platform, title, price_amount, price_currency, "
                    "price_usd, is_free, free_to_audit",
        "sources": "Sources of the current offerings linked to the credential",
        "n_offerings": "Number of current offerings linked to the credential",
        "title": "Surviving title of the credential",
    },
)

V_COVERAGE_BY_PROVIDER = View(
    "v_coverage_by_provider",
    "Coverage of the current catalog by awarding body and platform: offerings, credentials "
    "and sources per (awarding body, platform, provider kind, country). Names are "
    "dim_provider's most frequent spelling; null awarding body or platform means the "
    "offerings did not name one.",
    """
SELECT f.awarding_body_id, a.name AS awarding_body, f.platform_id, p.name AS platform,
       f.provider_kind, f.country,
       count(*) AS n_offerings,
       count(DISTINCT f.credential_id) AS n_credentials,
       count(DISTINCT f.source) AS n_sources
FROM marts.fct_offering AS f
LEFT JOIN marts.dim_provider AS a ON a.provider_id = f.awarding_body_id
LEFT JOIN marts.dim_provider AS p ON p.provider_id = f.platform_id
GROUP BY ALL
""",
    {
        "awarding_body": "Awarding body (owner of the credential), as named in dim_provider",
        "platform": "Platform or site that lists the offerings, as named in dim_provider",
        "provider_kind": "Kind of the awarding body as the offerings give it (university, mooc_platform, professional_association ...)",
        "country": "Country of the awarding body as the offerings give it (ISO 3166-1 alpha-2)",
        "n_offerings": "Number of current offerings in the group",
        "n_credentials": "Number of distinct credentials among the group's current offerings",
        "n_sources": "Number of distinct sources among the group's current offerings",
    },
)

_PRICE_STATS = """
       count(*) AS n_offerings,
       count(o.price_usd) AS n_priced,
       count(*) FILTER (WHERE o.is_free) AS n_free,
       min(o.price_usd) AS price_usd_min,
       quantile_cont(o.price_usd, 0.25) AS price_usd_p25,
       median(o.price_usd) AS price_usd_median,
       avg(o.price_usd) AS price_usd_mean,
       quantile_cont(o.price_usd, 0.75) AS price_usd_p75,
       max(o.price_usd) AS price_usd_max,
       median(o.price_usd) FILTER (WHERE o.price_usd > 0) AS price_usd_median_paid"""

V_PRICE_BY_FIELD_AND_TYPE = View(
    "v_price_by_field_and_type",
    "Price statistics in US dollars of current offerings by ISCED-F field of education (broad "
    "2-digit and narrow 3-digit level, with labels from dim_subject) and credential type. An "
    "offering counts once in every field it is classified in; free offerings count at 0 USD "
    "(price_usd_median_paid leaves them out).",
    f"""
WITH fields AS (
  SELECT DISTINCT offering_id, 'broad' AS field_level, left(isced_code, 2) AS field_code
  FROM marts.bridge_offering_subject
  UNION ALL
  SELECT DISTINCT offering_id, 'narrow', left(isced_code, 3)
  FROM marts.bridge_offering_subject WHERE length(isced_code) >= 3
)
SELECT x.field_level, x.field_code, s.label AS field_label,
       left(x.field_code, 2) AS broad_code, b.label AS broad_label,
       o.credential_type,{_PRICE_STATS}
FROM fields AS x
JOIN marts.fct_offering AS o USING (offering_id)
LEFT JOIN marts.dim_subject AS s ON s.isced_code = x.field_code
LEFT JOIN marts.dim_subject AS b ON b.isced_code = left(x.field_code, 2)
GROUP BY ALL
""",
    {
        "field_level": "ISCED-F level of field_code: broad (2 digits) or narrow (3 digits)",
        "field_code": "ISCED-F 2013 field of education code at field_level",
        "field_label": "Name of the ISCED-F field (null when no reference list gave one)",
        "broad_label": "Name of the ISCED-F broad field (null when no reference list gave one)",
        "n_offerings": "Number of current offerings in the field and credential type",
        "n_priced": "Offerings with a price in US dollars (price_usd not null)",
        "n_free": "Offerings that cost nothing",
        "price_usd_min": "Lowest price_usd",
        "price_usd_p25": "25th percentile of price_usd (interpolated)",
        "price_usd_median": "Median price_usd (interpolated)",
        "price_usd_mean": "Mean price_usd",
        "price_usd_p75": "75th percentile of price_usd (interpolated)",
        "price_usd_max": "Highest price_usd",
        "price_usd_median_paid": "Median price_usd of the offerings that cost something (> 0 USD)",
    },
)

V_SKILLS_MOST_TAUGHT = View(
    "v_skills_most_taught",
    "Skills by the number of current credentials and offerings that teach them. A skill is "
    "its ESCO URI where the source gave one (is_esco), else the raw skill name as the source "
    "gave it (lower-cased, trimmed), so unmapped skills still count.",
    """
WITH taught AS (
  SELECT offering_id, credential_id, source, skill AS skill_uri, NULL AS skill_raw
  FROM (SELECT offering_id, credential_id, source, unnest(skills) AS skill FROM marts.fct_offering)
  WHERE skill IS NOT NULL
  UNION ALL
  SELECT offering_id, credential_id, source, NULL, raw
  FROM (SELECT offering_id, credential_id, source, skills, trim(unnest(skills_raw)) AS raw
        FROM marts.fct_offering)
  WHERE raw IS NOT NULL AND raw <> '' AND NOT list_contains(skills, raw)
)
SELECT coalesce(skill_uri, lower(skill_raw)) AS skill,
       skill_uri IS NOT NULL AS is_esco,
       any_value(skill_uri) AS skill_uri,
       list(DISTINCT skill_raw ORDER BY skill_raw) FILTER (WHERE skill_raw IS NOT NULL) AS raw_names,
       count(DISTINCT credential_id) AS n_credentials,
       count(DISTINCT offering_id) AS n_offerings,
       count(DISTINCT source) AS n_sources
FROM taught
GROUP BY ALL
""",
    {
        "skill": "The skill: its ESCO URI, or the lower-cased raw name when the source gave no URI",
        "is_esco": "True when the skill is an ESCO skill URI, false for a raw name that was not mapped",
        "skill_uri": "ESCO skill URI (http://data.europa.eu/esco/skill/<uuid>); null for raw names",
        "raw_names": "Spellings of the raw skill name as the sources gave them; null for ESCO skills",
        "n_credentials": "Number of distinct current credentials teaching the skill",
        "n_offerings": "Number of current offerings teaching the skill",
        "n_sources": "Number of distinct sources with a current offering teaching the skill",
    },
)

V_SOURCE_OVERLAP = View(
    "v_source_overlap",
    "Pairs of sources (source_a < source_b) that list the same credentials: how many current "
    "credentials they share, out of how many each lists. Pairs sharing none are absent.",
    """
WITH listed AS (
  SELECT DISTINCT credential_id, source FROM marts.fct_offering WHERE credential_id IS NOT NULL
), per_source AS (
  SELECT source, count(*) AS n_credentials FROM listed GROUP BY source
), shared AS (
  SELECT a.source AS source_a, b.source AS source_b, count(*) AS n_shared_credentials
  FROM listed AS a
  JOIN listed AS b ON a.credential_id = b.credential_id AND a.source < b.source
  GROUP BY ALL
)
SELECT s.source_a, s.source_b, s.n_shared_credentials,
       pa.n_credentials AS n_credentials_a, pb.n_credentials AS n_credentials_b,
       s.n_shared_credentials
         / (pa.n_credentials + pb.n_credentials - s.n_shared_credentials) AS jaccard
FROM shared AS s
JOIN per_source AS pa ON pa.source = s.source_a
JOIN per_source AS pb ON pb.source = s.source_b
""",
    {
        "source_a": "First source of the pair (alphabetically smaller)",
        "source_b": "Second source of the pair",
        "n_shared_credentials": "Number of current credentials with offerings from both sources",
        "n_credentials_a": "Number of current credentials with an offering from source_a",
        "n_credentials_b": "Number of current credentials with an offering from source_b",
        "jaccard": "Shared credentials / credentials of either source (0-1)",
    },
)

_SHARES = ",\n       ".join(
    f"avg(CASE WHEN {test} THEN 1.0 ELSE 0.0 END) AS share_{name}" for name, test in KEY_FIELDS
)

V_QUALITY_BY_SOURCE = View(
    "v_quality_by_source",
    "Data quality per source: current offerings, mean EU completeness, the share of current "
    "offerings with each key field mapped, and the latest crawl run (complete or not, items, "
    "rejects by reason from staging.rejects).",
    f"""
WITH last_run AS (
  SELECT source, arg_max(run_id, started_at) AS run_id FROM marts.source_runs GROUP BY source
), runs AS (
  SELECT r.* FROM marts.source_runs AS r JOIN last_run USING (source, run_id)
), reasons AS (
  SELECT source, map(list(reason ORDER BY reason), list(n ORDER BY reason)) AS rejects_by_reason
  FROM (SELECT j.source, j.reason, count(*) AS n
        FROM staging.rejects AS j JOIN last_run USING (source, run_id) GROUP BY ALL)
  GROUP BY source
), offerings AS (
  SELECT source, count(*) AS n_offerings, avg(eu_completeness) AS mean_eu_completeness,
       {_SHARES}
  FROM marts.fct_offering GROUP BY source
), sources AS (
  SELECT source FROM offerings UNION SELECT source FROM runs
)
SELECT s.source, coalesce(o.n_offerings, 0) AS n_offerings,
       r.run_id AS last_run_id, r.started_at AS last_run_started_at,
       r.complete AS last_run_complete, r.items AS last_run_items,
       r.offerings AS last_run_offerings, r.rejects AS last_run_rejects,
       coalesce(x.rejects_by_reason, MAP {{}}::MAP(VARCHAR, BIGINT)) AS rejects_by_reason,
       o.* EXCLUDE (source, n_offerings)
FROM sources AS s
LEFT JOIN offerings AS o USING (source)
LEFT JOIN runs AS r USING (source)
LEFT JOIN reasons AS x USING (source)
""",
    {
        "n_offerings": "Number of current offerings of the source",
        "last_run_id": "run_id of the source's latest crawl run (by started_at)",
        "last_run_started_at": "When the latest crawl run started (UTC)",
        "last_run_complete": "True when the latest crawl run was complete (only complete crawls close offerings)",
        "last_run_items": "Raw records the latest crawl run produced",
        "last_run_offerings": "Raw records of the latest crawl run that became offerings",
        "last_run_rejects": "Raw records of the latest crawl run that became rejects",
        "rejects_by_reason": "Rejects of the latest crawl run by reason code (MAP reason -> count), from staging.rejects",
        "mean_eu_completeness": "Mean EU completeness of the current offerings (0-1)",
        **{f"share_{name}": f"Share of current offerings with {name} mapped ({test})"
           for name, test in KEY_FIELDS},
    },
)

VIEWS: tuple[View, ...] = (
    V_CURRENT_CREDENTIALS,
    V_COVERAGE_BY_PROVIDER,
    V_PRICE_BY_FIELD_AND_TYPE,
    V_SKILLS_MOST_TAUGHT,
    V_SOURCE_OVERLAP,
    V_QUALITY_BY_SOURCE,
)
