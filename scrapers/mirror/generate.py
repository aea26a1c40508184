"""Write the demo catalog: one site per source, in its real-world format, plus the truth.

Layout of the output folder::

    routes.json   url path (with query) -> {"file", "content_type"}   (what the server serves)
    faults.json   [{"path", "status", "times", "headers"}]             (injected failures; other
                  kinds, and plans per source: scrapers/mirror/faults.py)
    truth.jsonl   one row per listing: source, source_key, credential_key, is_test, expected
    manifest.json seed, scale, listings per source
    <source>/...  the files

Bodies may contain ``{{BASE}}``: the server replaces it with its own http://127.0.0.1:PORT,
so absolute links (sitemaps, ``next`` URLs) work on whatever free port it gets.
"""

from __future__ import annotations

import importlib
import json
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scrapers.mirror.universe import SOURCES, Listing, Universe, build_universe

BASE = "{{BASE}}"
# Bumped whenever the files generated for a (seed, scale) change, so caches of generated
# catalogs (the benchmarks' .cache/bench/<seed>-<size>/) know they are stale.
# 2: CourseLeaf course numbers never repeat within a subject (at scale they did: two courses
#    shared one code, so the truth gave one landed record two credentials).
GENERATOR_VERSION = 2


@dataclass
class SiteContext:
    """What a format writer gets: where to write, and how to register routes and faults."""

    source: str
    root: Path
    routes: dict[str, dict[str, str]] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)

    def path(self, path: str) -> str:
        """The URL path of a page of this source's site ('/api/x?page=2' -> '/<source>/api/x?page=2')."""
        return f"/{self.source}{path if path.startswith('/') else '/' + path}"

    def url(self, path: str) -> str:
        """Absolute URL, resolved by the server at serve time."""
        return BASE + self.path(path)

    def write(self, path: str, body: str | bytes, content_type: str, encoding: str = "utf-8") -> str:
        """Write one response body and route ``path`` (relative to the site) to it."""
        url_path = self.path(path)
        rel = re.sub(r"[^A-Za-z0-9._/@=&-]", "_", url_path.lstrip("/").replace("?", "@"))
        if rel.endswith("/"):
            rel += "index"
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        data = body if isinstance(body, bytes) else body.encode(encoding)
        target.write_bytes(data)
        self.routes[url_path] = {"file": rel, "content_type": content_type}
        return url_path

    def fault(self, path: str, status: int, times: int = 1, headers: dict[str, str] | None = None) -> None:
        """The first ``times`` requests of ``path`` answer ``status`` (then the real body)."""
        self.faults.append({"path": self.path(path), "status": status, "times": times, "headers": headers or {}})


def expected_values(listing: Listing, **overrides: Any) -> dict[str, Any]:
    """What normalization should map this listing to (the truth of what the page says)."""
    c = listing.credential
    exp: dict[str, Any] = {
        "title": listing.title,
        "awarding_body": c.org.name,
        "country": c.org.country,
        "credential_type": c.credential_type if c.credential_type != "Course" else None,
        "record_kind": "learning_opportunity" if c.credential_type == "Course" else "credential",
        "isced_code": c.isced,
        "audience_level": c.audience_level,
        "eqf_level": c.eqf_level,
        "language": c.language,
        "modality": c.modality,
        "timing": c.timing,
        "duration_weeks": c.weeks,
        "workload_hours_per_week": list(c.hours_per_week),
        "price_amount": listing.price,
        "price_currency": listing.currency if listing.price else None,
        "is_free": listing.price == 0,
        "free_to_audit": c.free_to_audit,
        "credits_ects": c.credits_ects,
    }
    exp.update(overrides)
    return exp


def generate(out_dir: Path, seed: int = 7, scale: float = 1.0,
             sources: Iterable[str] | None = None) -> dict[str, Any]:
    """Write every source's site, the truth and the fault plan into ``out_dir``.

    ``sources`` limits the output to some sites (tests of one source); each site's bytes are
    the same whether it is written alone or with the others.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = list(SOURCES) if sources is None else list(sources)
    unknown = sorted(set(wanted) - set(SOURCES))
    if unknown:
        raise ValueError(f"not sources of the demo catalog: {unknown}")
    universe: Universe = build_universe(seed=seed, scale=scale)
    routes: dict[str, dict[str, str]] = {}
    faults: list[dict[str, Any]] = []
    truth: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for source, fmt in SOURCES.items():
        if source not in wanted:
            continue
        writer = importlib.import_module(f"scrapers.mirror.formats.{fmt}")
        ctx = SiteContext(source=source, root=out_dir)
        # Each source gets its own stream, so changing one writer leaves the others' bytes alone.
        rng = random.Random(f"{seed}:{source}")
        rows = writer.write(universe.listings[source], ctx, rng)
        for row in rows:
            row.setdefault("source", source)
        truth.extend(rows)
        routes.update(ctx.routes)
        faults.extend(ctx.faults)
        counts[source] = len(rows)
    robots = "User-agent: *\nDisallow: /private/\n"
    (out_dir / "robots.txt").write_text(robots)
    routes["/robots.txt"] = {"file": "robots.txt", "content_type": "text/plain"}
    (out_dir / "routes.json").write_text(json.dumps(routes, indent=1, sort_keys=True))
    (out_dir / "faults.json").write_text(json.dumps(faults, indent=1))
    with (out_dir / "truth.jsonl").open("w") as fh:
        for row in truth:
            fh.write(json.dumps(row, sort_keys=True) + "\n")
    manifest = {"seed": seed, "scale": scale, "listings": counts, "total": sum(counts.values()),
                "credentials": len(universe.credentials)}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest
