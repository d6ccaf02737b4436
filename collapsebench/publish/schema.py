"""Stored results are checked against the documented JSON Schemas before anything aggregates them.

Result folders are files a person may have copied from anywhere: a leaderboard must never be
rendered from one that only looks right. ``schemas/run_spec.schema.json`` and
``schemas/row.schema.json`` are the machine-readable form of ``docs/results-format.md``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from collapsebench.run.storage import ROWS_FILE, SPEC_FILE, ResultsError

FIX = "it does not follow docs/results-format.md: move the run folder away and rerun it"


@cache
def validator(name: str) -> Draft202012Validator:
    """The validator of ``schemas/<name>.schema.json`` (``run_spec`` or ``row``)."""
    schema = json.loads(files("collapsebench.publish").joinpath("schemas", f"{name}.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _problem(name: str, obj: Any) -> str | None:
    error = best_match(validator(name).iter_errors(obj))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "top level"
    return f"{where}: {' '.join(error.message.split())[:200]}"


_VALID: set[str] = set()
"""Digests of run contents already found valid in this process: one command reads a run several
times (tables, page, plots), and jsonschema is by far the slowest part of reading it."""


def _digest(spec: dict[str, Any], rows: Sequence[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps([spec, list(rows)], sort_keys=True).encode()).hexdigest()


def validate_run(run_dir: Path, spec: dict[str, Any], rows: Sequence[dict[str, Any]]) -> None:
    """Raise a ResultsError naming the file (and line) that breaks the schema or the row order."""
    digest = _digest(spec, rows)
    if digest in _VALID:
        return
    problem = _problem("run_spec", spec)
    if problem:
        raise ResultsError(f"{run_dir / SPEC_FILE}: {problem}; {FIX}.")
    for number, row in enumerate(rows, start=1):
        problem = _problem("row", row)
        if problem is None and row["generation"] != number - 1:
            problem = f"generation {row['generation']} where {number - 1} was expected (a gap or a duplicate)"
        if problem is None and row["seed"] != spec["seed"]:
            problem = f"seed {row['seed']} in a folder of seed {spec['seed']}"
        if problem:
            raise ResultsError(f"{run_dir / ROWS_FILE} line {number}: {problem}; {FIX}.")
    _VALID.add(digest)


def schema_problem(name: str, obj: Any) -> str | None:
    """Where and how ``obj`` breaks ``schemas/<name>.schema.json`` (one line), or None when it follows it."""
    return _problem(name, obj)
