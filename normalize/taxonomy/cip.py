"""CIP 2020 (US Classification of Instructional Programs) -> ISCED-F 2013 crosswalk.

US sources carry CIP codes ("11.0701", "CIP Code: 52.0201"). TAXONOMY.md keeps them as given
(``subject_codes_raw``) and maps offerings to ISCED-F; the crosswalk below says which ISCED-F
field a CIP code is evidence for.

Two files in ``data/``:

- ``cip_isced_rules.csv`` (curated, edit freely): ``cip,isced,note``. ``cip`` is a 2-digit
  series ("11") or a 4-digit family ("11.07"); ``isced`` an ISCED-F code, as detailed as the
  family really is (a family that spans detailed fields gets the narrow or broad code), or
  empty for "no single field" (liberal arts, interdisciplinary studies). A family without a
  row of its own takes its series' row.
- ``cip_isced.csv`` (generated, committed): every series and family of CIP 2020 with its
  title, the ISCED-F code it resolves to and the rule it came from. Written by::

      python -m normalize.taxonomy.cip --reference ../shared/reference

  which fails when a rule names a CIP code that CIP 2020 does not have, an ISCED-F code that
  does not exist, or when a CIP series has no rule (so a new series cannot slip through).

A 6-digit code is read through its family, a family through itself; a bare 2-digit code is
not read as CIP at all (it is indistinguishable from an ISCED-F broad field).
"""

from __future__ import annotations

import argparse
import csv
import re
from functools import cache
from pathlib import Path

import polars as pl
from pydantic import field_validator

from normalize.taxonomy import DATA_DIR, Code, TaxonomyError, Text, _read_rows, _Row, _unique, codes

RULES_FILE = "cip_isced_rules.csv"
CROSSWALK_FILE = "cip_isced.csv"
_CIP_PREFIX = re.compile(r"^\d{2}(?:\.\d{2})?$")


class CipRuleRow(_Row):
    cip: Code
    isced: Text | None = None
    note: Text | None = None

    @field_validator("cip")
    @classmethod
    def _cip_form(cls, v: str) -> str:
        if not _CIP_PREFIX.match(v):
            raise ValueError(f"{v!r} is not a CIP series (NN) or family (NN.NN)")
        return v


class CipCrosswalkRow(_Row):
    cip: Code
    title: Text
    isced: Text | None = None
    rule: Code

    @field_validator("cip", "rule")
    @classmethod
    def _cip_form(cls, v: str) -> str:
        if not _CIP_PREFIX.match(v):
            raise ValueError(f"{v!r} is not a CIP series (NN) or family (NN.NN)")
        return v


def _check_isced(path: Path, line: int, value: str | None) -> None:
    if value and value not in codes("isced"):
        raise TaxonomyError(f"{path.name} line {line}: {value!r} is not an ISCED-F code in isced_f.csv")


def load_rules(path: Path | None = None) -> dict[str, CipRuleRow]:
    """The curated rules by CIP series / family, validated."""
    path = path or DATA_DIR / RULES_FILE
    rows = _read_rows(path, CipRuleRow)
    _unique(path, [r.cip for r in rows], "cip")
    for line, row in enumerate(rows, start=2):
        _check_isced(path, line, row.isced)
    return {r.cip: r for r in rows}


@cache
def load_cip_isced(path: Path | None = None) -> pl.DataFrame:
    """The crosswalk: cip (series "NN" or family "NN.NN"), title, isced (null = no single
    field), rule (the series or family whose rule decided it)."""
    path = path or DATA_DIR / CROSSWALK_FILE
    rows = _read_rows(path, CipCrosswalkRow)
    _unique(path, [r.cip for r in rows], "cip")
    for line, row in enumerate(rows, start=2):
        _check_isced(path, line, row.isced)
        if not row.cip.startswith(row.rule):
            raise TaxonomyError(f"{path.name} line {line}: rule {row.rule!r} is not a prefix of {row.cip!r}")
    return pl.DataFrame([r.model_dump() for r in rows],
                        schema={"cip": pl.String, "title": pl.String, "isced": pl.String, "rule": pl.String},
                        orient="row")


# --- generation ---------------------------------------------------------------------------------


def _cip_titles(reference: Path) -> dict[str, str]:
    """Series and family codes of CIP 2020 with their titles (trailing period dropped)."""
    path = reference / "cip" / "CIPCode2020.csv"
    with path.open(newline="", encoding="utf-8-sig") as fh:
        out = {}
        for row in csv.DictReader(fh):
            code = (row.get("CIP_Code") or "").strip()
            if _CIP_PREFIX.match(code):
                out[code] = " ".join((row.get("CIP_Title") or "").split()).rstrip(".")
    if not out:
        raise TaxonomyError(f"{path}: no CIP series or families found")
    return out


def crosswalk_rows(titles: dict[str, str], rules: dict[str, CipRuleRow]) -> list[dict[str, str]]:
    """Every series and family resolved by its most specific rule."""
    if unknown := sorted(set(rules) - set(titles)):
        raise TaxonomyError(f"{RULES_FILE}: CIP 2020 has no {unknown}")
    rows = []
    for cip in sorted(titles):
        if titles[cip].lower() == "reserved":
            continue
        rule = next((r for r in (cip, cip[:2]) if r in rules), None)
        if rule is None:
            raise TaxonomyError(f"{RULES_FILE}: no rule for CIP series {cip[:2]} ({titles[cip[:2]]})")
        rows.append({"cip": cip, "title": titles[cip], "isced": rules[rule].isced or "", "rule": rule})
    return rows


def generate(reference: Path, out: Path | None = None) -> Path:
    out = out or DATA_DIR / CROSSWALK_FILE
    rows = crosswalk_rows(_cip_titles(reference), load_rules())
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["cip", "title", "isced", "rule"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {out} ({len(rows)} rows)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", type=Path, default=Path("../shared/reference"))
    generate(parser.parse_args().reference)


if __name__ == "__main__":
    main()
