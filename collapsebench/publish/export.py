"""LaTeX (booktabs), CSV and JSON renderings of leaderboard tables and records.

LaTeX is for papers: one ``table`` float per table, mean and CI in one cell as ``x $\\pm$ y``, the
method stated in the caption (needs ``\\usepackage{booktabs}``). CSV and JSON carry the unrounded
numbers for anyone who wants to compute with them.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from collapsebench.publish.aggregate import METHOD
from collapsebench.publish.tables import MISSING, PM, STAT_KEYS, Table

LATEX_METHOD = (
    r"$\pm$ = 95\% CI, Student $t$ over $n$ seeds ($t_{0.975,n-1}\,s/\sqrt{n}$, $s$ = sample std; -- for $n<2$); "
    r"change = paired difference gen $G$ $-$ gen 0 over the same seeds; "
    r"gen $G$/gen 0 = ratio to generation 0 per seed, then averaged"
)
"""``aggregate.METHOD`` in LaTeX (its Unicode subscripts do not compile under pdflatex)."""

_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
            "<": r"\textless{}", ">": r"\textgreater{}"}
_SYMBOLS = {"↑": r"$\uparrow$", "↓": r"$\downarrow$", "±": r"$\pm$", "−": r"$-$", "—": "--", "–": "--",
            "≥": r"$\geq$", "≤": r"$\leq$", "·": r"$\cdot$", "×": r"$\times$", "‖": r"$\|$"}


def latex_text(text: str) -> str:
    """Escape LaTeX's special characters, write symbols as math, and `code` spans as \\texttt."""
    parts = re.split(r"`([^`]*)`", text)
    out = []
    for i, part in enumerate(parts):
        escaped = "".join(_ESCAPES.get(ch, ch) for ch in part)
        escaped = "".join(_SYMBOLS.get(ch, ch) for ch in escaped)
        out.append(rf"\texttt{{{escaped}}}" if i % 2 else escaped)
    return "".join(out)


def _latex_note(note: str) -> str:
    return LATEX_METHOD.join(latex_text(part) for part in note.split(METHOD))


def _latex_cell(cell: str | PM) -> str:
    if isinstance(cell, PM):
        if cell.ci == MISSING:
            return latex_text(cell.mean)
        return f"{latex_text(cell.mean)} $\\pm$ {latex_text(cell.ci)}"
    return latex_text(cell)


def latex_table(table: Table, label: str) -> str:
    """One booktabs ``table`` float; the notes become the caption."""
    spec = "".join("l" if c.kind == "text" else "r" for c in table.columns)
    lines = [
        r"\begin{table}[htbp]",
        r"\centering",
        rf"\caption{{{latex_text(table.title)}. {' '.join(_latex_note(n) for n in table.notes)}}}",
        rf"\label{{tab:collapsebench-{label}-{table.key}}}",
        r"\resizebox{\textwidth}{!}{%",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(latex_text(c.name) for c in table.columns) + r" \\",
        r"\midrule",
        *(" & ".join(_latex_cell(cell) for cell in row) + r" \\" for row in table.rows),
        r"\bottomrule",
        r"\end{tabular}}",
        r"\end{table}",
    ]
    return "\n".join(lines)


def latex_document(title: str, tables: list[Table], label: str) -> str:
    """The tables of one leaderboard as LaTeX to ``\\input`` (needs booktabs and graphicx)."""
    head = [f"% {title}", "% Rendered from the stored results by `collapsebench leaderboard`; do not edit by hand.",
            r"% Needs \usepackage{booktabs} and \usepackage{graphicx}.", ""]
    return "\n".join(head) + "\n\n".join(latex_table(table, label) for table in tables) + "\n"


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    """A record as one CSV row: nested statistics become ``<name>_<field>`` columns, lists join with ``;``."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key in STAT_KEYS:
            for field in ("mean", "ci95", "std", "n"):
                out[f"{key}_{field}"] = value.get(field) if value else None
        elif key == "sampling":
            out[key] = ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
        elif isinstance(value, list):
            out[key] = ";".join(map(str, value))
        else:
            out[key] = value
    return out


def csv_text(records: list[dict[str, Any]]) -> str:
    """Records as CSV with a header row; empty cells where a value is undefined (null)."""
    rows = [flatten(r) for r in records]
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return buffer.getvalue()


def json_text(name: str, records: list[dict[str, Any]]) -> str:
    """Records as a JSON document that states the method its intervals were computed with."""
    document = {"leaderboard": name, "format_version": 1, "method": METHOD, "records": records}
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"
