"""One-off generator of the vocabulary tables in ``data/`` from the reference copies.

Codes and labels are facts of the standards; this script reads them from the machine-readable
reference files (shared/reference: ELM XSDs, CTDL JSON-LD) and writes the project's own CSV
tables. The CSV files are committed; the pipeline never reads the reference folder. Run again
only when the standards change::

    python -m normalize.taxonomy.generate --reference ../shared/reference

Curated lookup tables (``lookup_*.csv``, ``fx_rates.csv``) are hand-maintained data and are not
touched here, except ``--bootstrap-languages`` which writes a first language-name table from
pycountry and refuses to overwrite an existing one (curators' edits win).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"
_XS = "{http://www.w3.org/2001/XMLSchema}"
CTDL_TERMS = "https://purl.org/ctdl/terms/"
CTDL_VOCABS = "https://purl.org/ctdl/vocabs/"


def _write(name: str, header: list[str], rows: list[dict[str, object]]) -> None:
    path = DATA_DIR / name
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in header})
    print(f"wrote {path} ({len(rows)} rows)")


def _xsd_enumerations(path: Path) -> list[tuple[str, str]]:
    """(value, documentation) pairs of an ELM controlled-list XSD, whitespace collapsed."""
    root = ET.parse(path).getroot()
    out = []
    for enum in root.iter(f"{_XS}enumeration"):
        doc = enum.find(f"{_XS}annotation/{_XS}documentation")
        label = " ".join((doc.text or "").split()) if doc is not None else ""
        out.append((enum.get("value", ""), label))
    return out


def isced(reference: Path) -> None:
    rows = []
    for uri, label in _xsd_enumerations(reference / "elm" / "isced-f.xsd"):
        code = uri.rstrip("/").rsplit("/", 1)[1]
        level = {2: "broad", 3: "narrow", 4: "detailed"}[len(code)]
        # ISCED-F codes nest by prefix: 0613 -> 061 -> 06.
        parent = code[:-1] if len(code) > 2 else ""
        rows.append({"code": code, "level": level, "label": label, "parent": parent, "uri": uri})
    rows.sort(key=lambda r: (str(r["code"])[:2], len(str(r["code"])), r["code"]))
    _write("isced_f.csv", ["code", "level", "label", "parent", "uri"], rows)


def eqf(reference: Path) -> None:
    cycles = {5: "short cycle", 6: "first cycle", 7: "second cycle", 8: "third cycle"}
    rows = []
    for uri, label in _xsd_enumerations(reference / "elm" / "eqf.xsd"):
        level = int(uri.rstrip("/").rsplit("/", 1)[1])
        rows.append({"level": level, "label": label, "uri": uri, "qf_ehea_cycle": cycles.get(level)})
    _write("eqf_levels.csv", ["level", "label", "uri", "qf_ehea_cycle"], rows)


def _camel_label(code: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", code).replace(" Of ", " of ")


# CTDL classes named by TAXONOMY.md that are newer than the 2022 reference schema. Parents are
# our reading of the current CTDL terms pages; the origin column says so.
_NEWER_CREDENTIAL_CLASSES = {
    "AcademicCertificate": ("Academic Certificate", "Certificate"),
    "ProfessionalCertificate": ("Professional Certificate", "Certificate"),
    "ProficiencyCertificate": ("Proficiency Certificate", "Certificate"),
    "CertificateOfParticipation": ("Certificate of Participation", "Credential"),
}
_LEARNING_OPPORTUNITY_CLASSES = {
    "LearningOpportunityProfile": "",
    "LearningOpportunity": "",
    "Course": "LearningOpportunity",
    "LearningProgram": "LearningOpportunity",
}
_ASSESSMENT_CLASSES = {"AssessmentProfile": "", "Assessment": ""}
_DEGREE_EQF = {"AssociateDegree": 5, "BachelorDegree": 6, "MasterDegree": 7, "DoctoralDegree": 8}


def credential_types(reference: Path) -> None:
    ctdl = json.loads((reference / "ctdl" / "ctdl.json").read_text())
    labels = {
        g["@id"].split(":", 1)[1]: g["rdfs:label"]["en-US"]
        for g in ctdl["@graph"]
        if g.get("@type") == "rdfs:Class" and g["@id"].startswith("ceterms:")
    }
    tree = json.loads((reference / "ctdl" / "subclasses_map.json").read_text())

    parents: dict[str, str] = {"Credential": ""}

    def walk(node: dict, parent: str) -> None:
        for key, children in node.items():
            code = key.split(":", 1)[1]
            # A class can appear both directly under Credential and under a more specific
            # parent (ProfessionalDoctorate under DoctoralDegree); keep the most specific.
            if code not in parents or parents[code] == "Credential":
                parents[code] = parent
            walk(children, code)

    walk(tree["ceterms:Credential"], "Credential")
    rows = []
    for code, parent in parents.items():
        rows.append(
            {
                "code": code,
                "label": labels.get(code, _camel_label(code)),
                "parent": parent,
                "kind": "credential",
                "eqf_level": _DEGREE_EQF.get(code),
                "uri": CTDL_TERMS + code,
                "origin": "ctdl-2022" if code in labels else "ctdl-subclasses-map",
            }
        )
    for code, (label, parent) in _NEWER_CREDENTIAL_CLASSES.items():
        rows.append(
            {"code": code, "label": label, "parent": parent, "kind": "credential",
             "uri": CTDL_TERMS + code, "origin": "taxonomy-md"}
        )
    for table, kind in ((_LEARNING_OPPORTUNITY_CLASSES, "learning_opportunity"),
                        (_ASSESSMENT_CLASSES, "assessment")):
        for code, parent in table.items():
            rows.append(
                {"code": code, "label": labels.get(code, _camel_label(code)), "parent": parent,
                 "kind": kind, "uri": CTDL_TERMS + code,
                 "origin": "ctdl-2022" if code in labels else "ctdl-subclasses-map"}
            )
    _write("credential_types.csv",
           ["code", "label", "parent", "kind", "eqf_level", "uri", "origin"], rows)


def _concept_scheme(reference: Path, file: str) -> list[dict[str, object]]:
    graph = json.loads((reference / "ctdl" / file).read_text())["@graph"]
    rows = []
    for g in graph:
        if g.get("@type") != "skos:Concept":
            continue
        prefix, code = g["@id"].split(":", 1)
        broader = [b.split(":", 1)[1] for b in g.get("skos:broader", [])]
        rows.append(
            {"code": code, "label": g["skos:prefLabel"]["en-US"], "broader": ";".join(broader),
             "uri": f"{CTDL_VOCABS}{prefix}/{code}", "origin": "ctdl-2022"}
        )
    return rows


def concept_schemes(reference: Path) -> None:
    header = ["code", "label", "broader", "uri", "origin"]
    # Degree-level audiences state a QF-EHEA cycle, which is evidence of an EQF level
    # (TAXONOMY.md section 5); "Beginner" and the like state none.
    degree_eqf = {"AssociatesDegreeLevel": 5, "BachelorsDegreeLevel": 6,
                  "MastersDegreeLevel": 7, "DoctoralDegreeLevel": 8}
    levels = _concept_scheme(reference, "audience-level.json")
    for row in levels:
        row["eqf_level"] = degree_eqf.get(str(row["code"]))
    _write("audience_levels.csv", [*header, "eqf_level"], levels)
    _write("cost_types.csv", header, _concept_scheme(reference, "cost-type.json"))
    units = _concept_scheme(reference, "credit-unit.json")
    # ECTS is not a concept of the 2022 CTDL credit-unit scheme, but TAXONOMY.md keeps ECTS
    # credits apart (EU Annex I asks for workload in ECTS), so it is carried as our own term.
    units.append({"code": "ECTS", "label": "European Credit Transfer and Accumulation System credit",
                  "broader": "TypeBasedCredit", "uri": "", "origin": "credcat"})
    _write("credit_units.csv", header, units)
    eu_form = {"OnlineOnly": "online", "InPerson": "onsite", "BlendedDelivery": "blended"}
    modalities = _concept_scheme(reference, "delivery-type.json")
    for row in modalities:
        row["broader"] = eu_form[str(row["code"])]
    _write("modalities.csv", ["code", "label", "eu_form", "uri", "origin"],
           [{**r, "eu_form": r["broader"]} for r in modalities])


def hand_vocabularies() -> None:
    """Small vocabularies whose codes TAXONOMY.md defines itself (simplified CTDL)."""
    _write("timings.csv", ["code", "label", "ctdl_equivalent"], [
        {"code": "self-paced", "label": "Self-paced, learner sets the schedule",
         "ctdl_equivalent": "learnMethod:SelfPaced"},
        {"code": "scheduled", "label": "Scheduled: cohort or instructor-paced sessions",
         "ctdl_equivalent": ""},
    ])
    _write("organization_kinds.csv", ["code", "label", "ctdl_org_types"], [
        {"code": "university", "label": "University or college",
         "ctdl_org_types": "orgType:Postsecondary;orgType:FourYear;orgType:TwoYear"},
        {"code": "mooc_platform", "label": "MOOC platform", "ctdl_org_types": "orgType:PrimarilyOnline"},
        {"code": "professional_association", "label": "Professional association",
         "ctdl_org_types": "orgType:ProfessionalAssociation;orgType:BusinessAssociation"},
        {"code": "vendor", "label": "Vendor or company", "ctdl_org_types": "orgType:Vendor;orgType:Business"},
        {"code": "government_agency", "label": "Government or agency", "ctdl_org_types": "orgType:Government"},
        {"code": "training_provider", "label": "Training provider",
         "ctdl_org_types": "orgType:TrainingProvider"},
        {"code": "quality_assurance_body", "label": "Quality assurance body",
         "ctdl_org_types": "orgType:QualityAssurance;orgType:CertificationBody"},
    ])


def bootstrap_languages() -> None:
    """First language-name table from ISO 639 (pycountry); never overwrites curated data."""
    import pycountry

    path = DATA_DIR / "lookup_language.csv"
    if path.exists():
        raise SystemExit(f"{path} exists; edit it by hand instead")
    rows = []
    for lang in pycountry.languages:
        alpha_2 = getattr(lang, "alpha_2", None)
        if alpha_2:
            rows.append({"key": lang.name, "value": alpha_2, "match": "exact", "note": "ISO 639-1 name"})
    _write("lookup_language.csv", ["key", "value", "match", "note"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reference", type=Path, default=Path("../shared/reference"))
    parser.add_argument("--bootstrap-languages", action="store_true")
    args = parser.parse_args()
    DATA_DIR.mkdir(exist_ok=True)
    if args.bootstrap_languages:
        bootstrap_languages()
        return
    isced(args.reference)
    eqf(args.reference)
    credential_types(args.reference)
    concept_schemes(args.reference)
    hand_vocabularies()


if __name__ == "__main__":
    main()
