"""How well credcat maps real records onto the taxonomy, field by field, against labels a
person wrote by reading the records (tests/eval/labels, spec in tests/eval/LABELS.md).

``python -m normalize.taxonomy.evaluate`` (``make eval``) crawls every labelled source of the
real-data corpus with its own connector, normalizes what lands, and prints per field:
labelled records, coverage (share where credcat gives a value), accuracy (share of given
values equal to the label), and the acceptance target; then the same per source.
``--details`` lists every disagreement (file, key, field, label, credcat's value);
``--check`` exits 1 when a target is missed.

The labelled set is split in two halves by a hash of (source, key): ``dev`` records are the
ones whose disagreements mapping work may look at (``--details`` lists only those unless
``--split`` says otherwise); ``test`` records are held out, so their figures show whether
the mapping generalizes or was fitted to what was looked at. The acceptance figures are
printed for all records and for each half.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from scrapers.registry import PROJECT_ROOT

LABELS_DIR = PROJECT_ROOT / "tests" / "eval" / "labels"
TOLERANCE = 0.10  # numbers match within 10 %

# field -> (coverage target, accuracy target); None = reported only.
TARGETS: dict[str, tuple[float | None, float | None]] = {
    "credential_type": (0.95, 0.95),
    "isced_broad": (None, 0.90),
    "isced_detailed": (None, 0.75),
    "workload_hours": (None, None),  # judged on the 'exact share' below
    "duration_weeks": (None, None),
    "price": (None, None),
    "skills": (0.60, 0.85),
    "language": (None, 0.95),
    "country": (None, 0.95),
    "modality": (None, 0.95),
    "timing": (None, 0.95),
}
# Fields whose criterion is "right for >= X of the labelled records" (coverage x accuracy).
SHARE_TARGETS = {"workload_hours": 0.95, "duration_weeks": 0.95, "price": 0.98}


class LabelError(ValueError):
    """A labels file that does not follow tests/eval/LABELS.md."""


@dataclass(frozen=True)
class Label:
    source: str
    file: str
    key: str
    labels: dict[str, Any]


def load_labels(folder: Path = LABELS_DIR) -> list[Label]:
    """Every label of ``folder``; lines of several files about one record are merged."""
    merged: dict[tuple[str, str], Label] = {}
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise LabelError(f"no labels files in {folder}")
    for path in files:
        for n, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise LabelError(f"{path.name}:{n}: not JSON ({exc})") from None
            if "_sample" in row:
                continue
            missing = {"source", "file", "key", "labels"} - row.keys()
            if missing or not isinstance(row.get("labels"), dict):
                raise LabelError(f"{path.name}:{n}: needs source, file, key and a labels object (missing {sorted(missing)})")
            ident = (row["source"], str(row["key"]))
            if ident in merged:
                old = merged[ident]
                if clash := {k for k in row["labels"].keys() & old.labels.keys() if row["labels"][k] != old.labels[k]}:
                    raise LabelError(f"{path.name}:{n}: {ident} labelled twice with different {sorted(clash)}")
                merged[ident] = Label(old.source, old.file, old.key, {**old.labels, **row["labels"]})
            else:
                merged[ident] = Label(row["source"], row["file"], str(row["key"]), dict(row["labels"]))
    return list(merged.values())


def split_of(label: Label) -> str:
    """'dev' or 'test', fixed per record: half of each source either way, in expectation."""
    digest = hashlib.sha256(f"{label.source}\x1f{label.key}".encode()).digest()
    return "dev" if digest[0] % 2 == 0 else "test"


# --- scoring --------------------------------------------------------------------------------------


@dataclass
class Score:
    """Counts for one field: labelled records, records given a value, values judged right."""

    labelled: int = 0
    given: int = 0
    right: int = 0
    # Skills are scored per URI: predicted URIs, of which in the label; labelled URIs.
    predicted_items: int = 0
    right_items: int = 0
    label_items: int = 0
    misses: list[dict[str, Any]] = field(default_factory=list)

    def add(self, given: bool, right: bool | None, miss: dict[str, Any] | None = None) -> None:
        self.labelled += 1
        self.given += given
        self.right += bool(given and right)
        if miss is not None and not (given and right):
            self.misses.append(miss)

    @property
    def coverage(self) -> float | None:
        return self.given / self.labelled if self.labelled else None

    @property
    def accuracy(self) -> float | None:
        if self.predicted_items:
            return self.right_items / self.predicted_items
        return self.right / self.given if self.given else None

    @property
    def share(self) -> float | None:
        """Records right out of all labelled ones (coverage x accuracy)."""
        return self.right / self.labelled if self.labelled else None


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return False
    if math.isclose(a, b, abs_tol=1e-9):
        return True
    return abs(a - b) <= TOLERANCE * max(abs(a), abs(b))


def _range_right(label: dict[str, Any], pred: dict[str, Any], name: str) -> tuple[bool, bool] | None:
    """(given, right) for a min/max pair; None when the label states neither bound."""
    lo, hi = label.get(f"{name}_min"), label.get(f"{name}_max")
    if lo is None and hi is None:
        return None
    p_lo, p_hi = pred.get(f"{name}_min"), pred.get(f"{name}_max")
    given = p_lo is not None or p_hi is not None
    lo, hi = (lo if lo is not None else hi), (hi if hi is not None else lo)
    p_lo, p_hi = (p_lo if p_lo is not None else p_hi), (p_hi if p_hi is not None else p_lo)
    return given, given and _close(lo, p_lo) and _close(hi, p_hi)


def _type_decision(pred: dict[str, Any]) -> tuple[bool, tuple[str | None, str | None]]:
    """(given, (credential_type, record_kind)): a credential we could not name is not given."""
    kind, ctype = pred.get("record_kind"), pred.get("credential_type")
    return (ctype is not None or (kind is not None and kind != "credential")), (ctype, kind)


def score_record(label: Label, pred: dict[str, Any] | None, scores: dict[str, Score]) -> None:
    """Add one labelled record to ``scores`` (pred None: the record did not reach offerings)."""
    lab = label.labels
    p = pred or {}
    where = {"source": label.source, "file": label.file, "key": label.key, "missing": pred is None}

    def miss(name: str, want: Any, got: Any) -> dict[str, Any]:
        return {**where, "field": name, "label": want, "credcat": got}

    if "credential_type" in lab or "record_kind" in lab:
        given, (ctype, kind) = _type_decision(p)
        want_type, want_kind = lab.get("credential_type"), lab.get("record_kind")
        right = ctype == want_type and (want_type is not None or want_kind is None or kind == want_kind)
        scores["credential_type"].add(given, right, miss("credential_type", [want_type, want_kind], [ctype, kind]))

    codes = [str(c) for c in lab.get("isced") or []]
    if codes:
        got = [str(c) for c in p.get("isced_codes") or []]
        scores["isced_broad"].add(bool(got), bool(got) and got[0][:2] in {c[:2] for c in codes},
                                  miss("isced_broad", codes, got))
        detailed = {c for c in codes if len(c) == 4}
        if detailed:
            got4 = [c for c in got if len(c) == 4]
            scores["isced_detailed"].add(bool(got4), bool(got4) and got4[0] in detailed,
                                         miss("isced_detailed", sorted(detailed), got))

    for name in ("workload_hours", "duration_weeks"):
        if (res := _range_right(lab, p, name)) is not None:
            given, right = res
            scores[name].add(given, right, miss(name, [lab.get(f"{name}_min"), lab.get(f"{name}_max")],
                                                 [p.get(f"{name}_min"), p.get(f"{name}_max")]))

    if lab.get("price_amount") is not None:
        amount, cur = p.get("price_amount"), p.get("price_currency")
        # A price of nothing is in no currency (credcat writes none): 0 matches 0 in any.
        right = (amount is not None and math.isclose(amount, float(lab["price_amount"]), abs_tol=0.005)
                 and (cur == lab.get("price_currency") or float(lab["price_amount"]) == 0))
        scores["price"].add(amount is not None, right,
                            miss("price", [lab["price_amount"], lab.get("price_currency")], [amount, cur]))

    if lab.get("skills_listed"):
        want, got = set(lab.get("skills") or []), list(dict.fromkeys(p.get("skills") or []))
        s = scores["skills"]
        s.add(bool(got), bool(got) and set(got) <= want, miss("skills", sorted(want), got))
        s.predicted_items += len(got)
        s.right_items += len(set(got) & want)
        s.label_items += len(want)

    for name, pred_name in (("language", "language"), ("country", "country"), ("modality", "modality"),
                            ("timing", "timing"), ("audience_level", "audience_level"),
                            ("eqf_level", "eqf_level"), ("is_free", "is_free"),
                            ("free_to_audit", "free_to_audit")):
        if lab.get(name) is not None:
            got = p.get(pred_name)
            want = lab[name]
            right = got == want if name != "language" else (got is not None and str(got).split("-")[0] == str(want).split("-")[0])
            scores[name].add(got is not None, right, miss(name, want, got))


# --- running ----------------------------------------------------------------------------------


def predictions(sources: Iterable[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """credcat's offerings of each source, by (source, source_key), normalized together."""
    from normalize.taxonomy.landed import raw_records, realdata_sources
    from normalize.transforms import normalize

    known = realdata_sources()
    frames = []
    for name in sorted(set(sources)):
        if name not in known:
            raise LabelError(f"labels name source {name!r}, which is not in the realdata registry")
        frames.append(raw_records(name))
    raw = pl.concat(frames, how="vertical")
    result = normalize(raw.lazy(), provider_kinds={n: s.provider_kind for n, s in known.items()})
    return {(r["source"], r["source_key"]): r for r in result.offerings.iter_rows(named=True)}


FIELDS = list(TARGETS) + ["audience_level", "eqf_level", "is_free", "free_to_audit"]


def evaluate(labels: list[Label], preds: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    """Scores overall and per source."""
    overall: dict[str, Score] = defaultdict(Score)
    per_source: dict[str, dict[str, Score]] = defaultdict(lambda: defaultdict(Score))
    missing = []
    for label in labels:
        pred = preds.get((label.source, label.key))
        if pred is None:
            missing.append((label.source, label.key))
        score_record(label, pred, overall)
        score_record(label, pred, per_source[label.source])
    return {"overall": overall, "per_source": per_source, "missing": missing,
            "records": len(labels), "files": len({lab.file for lab in labels}),
            "sources": len({lab.source for lab in labels})}


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def verdicts(overall: dict[str, Score]) -> dict[str, bool]:
    """Each acceptance target: met or not."""
    out = {}
    for name, (cov, acc) in TARGETS.items():
        s = overall.get(name)
        if s is None or not s.labelled:
            continue
        if cov is not None:
            out[f"{name} coverage >= {cov}"] = (s.coverage or 0) >= cov
        if acc is not None:
            out[f"{name} accuracy >= {acc}"] = (s.accuracy or 0) >= acc
    for name, share in SHARE_TARGETS.items():
        s = overall.get(name)
        if s is not None and s.labelled:
            out[f"{name} right for >= {share} of labelled"] = (s.share or 0) >= share
    return out


def report(result: dict[str, Any], out: Callable[[str], Any] = print, details: bool = False) -> bool:
    overall: dict[str, Score] = result["overall"]
    out(f"labelled set: {result['records']} records from {result['files']} files ({result['sources']} sources); "
        f"not landed as offerings: {len(result['missing'])}")
    out("")
    out(f"{'field':<16}{'labelled':>9}{'coverage':>10}{'accuracy':>10}{'right/all':>11}")
    for name in FIELDS:
        s = overall.get(name)
        if s is None or not s.labelled:
            continue
        out(f"{name:<16}{s.labelled:>9}{_fmt(s.coverage):>10}{_fmt(s.accuracy):>10}{_fmt(s.share):>11}")
    sk = overall.get("skills")
    if sk is not None and sk.labelled:
        recall = sk.right_items / sk.label_items if sk.label_items else None
        out(f"  skills: {sk.predicted_items} URIs predicted, {sk.right_items} in the labels "
            f"(precision {_fmt(sk.accuracy)}); {sk.label_items} labelled URIs (recall {_fmt(recall)})")
    out("")
    out("per source (coverage/accuracy):")
    shown = [f for f in FIELDS if overall.get(f) and overall[f].labelled]
    for source, scores in sorted(result["per_source"].items()):
        cells = []
        for name in shown:
            s = scores.get(name)
            if s is not None and s.labelled:
                cells.append(f"{name}={_fmt(s.coverage)}/{_fmt(s.accuracy)} (n={s.labelled})")
        out(f"  {source}: " + "; ".join(cells))
    out("")
    ok = True
    for criterion, met in verdicts(overall).items():
        ok &= met
        out(f"  [{'ok' if met else 'MISSED'}] {criterion}")
    if details:
        out("")
        out("disagreements:")
        for name in FIELDS:
            s = overall.get(name)
            for m in (s.misses if s else []):
                out("  " + json.dumps(m, ensure_ascii=False, default=str))
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=Path, default=LABELS_DIR)
    parser.add_argument("--details", action="store_true", help="list every disagreement")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--source", action="append", help="only these sources (repeatable)")
    parser.add_argument("--split", choices=["all", "dev", "test"], default=None,
                        help="score only this half (default: all, then each half's verdicts)")
    args = parser.parse_args(argv)
    labels = load_labels(args.labels)
    if args.source:
        labels = [lab for lab in labels if lab.source in set(args.source)]
    preds = predictions(lab.source for lab in labels)
    if args.split not in (None, "all"):
        labels = [lab for lab in labels if split_of(lab) == args.split]
    result = evaluate(labels, preds)
    ok = report(result, details=False)
    if args.split is None:
        for half in ("dev", "test"):
            part = evaluate([lab for lab in labels if split_of(lab) == half], preds)
            print(f"\n{half} half ({part['records']} records):")
            for criterion, met in verdicts(part["overall"]).items():
                name = criterion.split(" ")[0]
                s = part["overall"][name]
                figure = s.share if "right for" in criterion else s.coverage if "coverage" in criterion else s.accuracy
                print(f"  [{'ok' if met else 'MISSED'}] {criterion}: {_fmt(figure)}")
    if args.details:
        shown = labels if args.split else [lab for lab in labels if split_of(lab) == "dev"]
        print("\ndisagreements" + ("" if args.split else " (dev half)") + ":")
        detail = evaluate(shown, preds)["overall"]
        for name in FIELDS:
            s = detail.get(name)
            for m in (s.misses if s else []):
                print("  " + json.dumps(m, ensure_ascii=False, default=str))
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
