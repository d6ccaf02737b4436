"""Revisions of a run group: a published number is never overwritten, a changed one is a new revision.

Revision 1 of a run group lives in ``<track>/<run_group>/``, revision N ≥ 2 beside it in
``<track>/<run_group>.rev<N>/`` (the MTEB convention of results kept per revision). Readers use the
newest revision of each group and say which one it is; older ones stay on disk as the record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

SUFFIX = ".rev"


def revision_folder(run_group: str, revision: int) -> str:
    """The folder name of ``revision`` of ``run_group``."""
    return run_group if revision == 1 else f"{run_group}{SUFFIX}{revision}"


def revision_of(folder: str, run_group: str) -> int:
    """The revision a group folder holds: N for ``<run_group>.rev<N>``, else 1."""
    match = re.fullmatch(re.escape(run_group) + re.escape(SUFFIX) + r"([0-9]+)", folder)
    return int(match.group(1)) if match and int(match.group(1)) >= 2 else 1


def stored_revisions(track_dir: Path, run_group: str) -> list[int]:
    """The revisions of ``run_group`` stored under ``track_dir``, ascending."""
    if not track_dir.is_dir():
        return []
    found = {revision_of(p.name, run_group) for p in track_dir.iterdir()
             if p.is_dir() and (p.name == run_group or p.name.startswith(run_group + SUFFIX))}
    return sorted(r for r in found if (track_dir / revision_folder(run_group, r)).is_dir())


def newest_revisions(keys: Iterable[tuple[str, int]]) -> dict[str, tuple[int, int]]:
    """run group → (its newest revision, how many revisions are stored), from (group, revision) keys."""
    seen: dict[str, list[int]] = {}
    for name, revision in keys:
        seen.setdefault(name, []).append(revision)
    return {name: (max(revs), len(set(revs))) for name, revs in sorted(seen.items())}
