"""``collapsebench submit``: check a third party's results and add them to the published results tree.

A submission is a results folder as ``run``/``sweep`` write it. Every run folder must follow the
result schema, carry complete provenance, be a finished chain whose config hash is the hash of its
config, and run a config of one of the track's presets (or be submitted as ``--custom``); otherwise
the whole submission is rejected with the reasons and nothing is copied. Accepted run groups are
copied (rows, spec, artifacts; never checkpoints) into ``<into>/<track>/``, and published numbers
are never overwritten: a group whose numbers differ from its newest stored revision becomes a new
revision folder (``revisions.py``); one whose numbers are the same is left as it is.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from collapsebench.errors import CollapseBenchError, UnknownNameError
from collapsebench.files import atomic_write_json
from collapsebench.publish.revisions import revision_folder, stored_revisions
from collapsebench.publish.schema import schema_problem, validate_run
from collapsebench.run.provenance import utc_now
from collapsebench.run.storage import (
    ROWS_FILE,
    SPEC_FILE,
    ResultsError,
    find_runs,
    read_rows,
    read_spec,
)

SUBMISSION_FILE = "submission.json"
SUBMISSION_VERSION = 1
MAX_REASONS = 5


class SubmissionError(CollapseBenchError):
    """A submission was rejected; the message lists why."""


@dataclass(frozen=True)
class Outcome:
    """What happened to one submitted run group."""

    track: str
    run_group: str
    action: Literal["added", "revised", "unchanged"]
    revision: int
    preset: str | None
    seeds: tuple[int, ...]

    def __str__(self) -> str:
        config = f"preset {self.preset}" if self.preset else "custom config"
        seeds = f"{len(self.seeds)} seed{'s' if len(self.seeds) != 1 else ''}"
        what = {"added": "added", "revised": f"new revision {self.revision} of",
                "unchanged": f"unchanged (same numbers as revision {self.revision}):"}[self.action]
        return f"{what} {self.track}/{self.run_group} ({config}, {seeds})"


def read_submission(group_dir: Path) -> dict[str, Any] | None:
    """The submission record of a run group folder, validated; None for a folder written by a run."""
    path = Path(group_dir) / SUBMISSION_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError:
        raise ResultsError(f"{path} is not valid JSON: restore it from version control.") from None
    problem = schema_problem("submission", record)
    if problem:
        raise ResultsError(
            f"{path}: {problem}; it does not follow docs/results-format.md: restore it from version control."
        )
    return record


def _provenance_problems(spec: dict[str, Any]) -> list[str]:
    problems = []
    versions = spec.get("versions") or {}
    if not isinstance(versions.get("plugins"), dict) or not versions["plugins"]:
        problems.append("versions/plugins is missing (the plugin versions that produced it)")
    if not spec.get("git_commit"):
        problems.append("git_commit is null: run it from a git checkout of collapsebench")
    hardware = spec.get("hardware") or {}
    missing = [key for key in ("machine", "cpus") if key not in hardware]
    if missing:
        problems.append(f"hardware lacks {', '.join(missing)}")
    return problems


def _integrity_problems(run_dir: Path, spec: dict[str, Any]) -> list[str]:
    """The names on disk and in the spec must be the ones its config produces."""
    from collapsebench.experiment.config import RunConfig

    config = RunConfig(**spec["config"])
    problems = []
    if config.config_hash() != spec["config_hash"]:
        problems.append(f"config_hash {spec['config_hash']} is not the hash of its config ({config.config_hash()})")
    if config.run_group() != spec["run_group"] or run_dir.parent.name != spec["run_group"]:
        problems.append(f"it must live in a folder named {config.run_group()}/seed-{spec['seed']}")
    if run_dir.name != f"seed-{spec['seed']}" or config.seeds != [spec["seed"]]:
        problems.append(f"folder {run_dir.name} does not hold seed {spec['seed']} alone")
    if (spec["track"], spec["model"], spec["mitigation"]) != (config.track, config.model, config.mitigation):
        problems.append("track, model or mitigation differ from its config")
    return problems


def preset_of(spec: dict[str, Any]) -> str | None:
    """The name of the track preset whose grid holds this run's config (same hash and G), or None."""
    from collapsebench.experiment.config import parse_sweep
    from collapsebench.plugin.registry import registries

    track = registries().tracks.get(spec["track"])
    for name, preset in sorted(track.presets.items()):
        sweep = parse_sweep({"track": spec["track"], **preset}, f"preset '{name}'")
        for config in sweep.runs():
            if config.config_hash() == spec["config_hash"] and config.generations == spec["config"]["generations"]:
                return name
    return None


def _check_run(run_dir: Path, custom: bool) -> tuple[dict[str, Any], list[dict[str, Any]], str | None, list[str]]:
    """Spec, rows, matching preset and the problems of one submitted run folder."""
    from collapsebench.experiment.config import RunConfig
    from collapsebench.run.chain import is_finished

    try:
        spec = read_spec(run_dir)
        rows = read_rows(run_dir)
        validate_run(run_dir, spec, rows)
    except ResultsError as exc:
        return {}, [], None, [str(exc)]
    problems = _provenance_problems(spec) + _integrity_problems(run_dir, spec)
    if not rows or not is_finished(rows, RunConfig(**spec["config"])):
        last = rows[-1]["generation"] if rows else "none"
        problems.append(f"the chain is unfinished (last generation {last} of {spec['config']['generations']}): "
                        "rerun the same command to finish it")
    preset = None
    try:
        preset = preset_of(spec)
    except UnknownNameError:
        if not custom:
            problems.append(f"track '{spec['track']}' is not installed here, so its presets cannot be checked: "
                            "install its plugin, or pass --custom")
    if preset is None and not custom and not problems:
        problems.append("its config matches no preset of the track: run a preset "
                        "(`collapsebench list` shows them), or pass --custom to submit it as a custom config")
    return spec, rows, preset, [f"{run_dir}: {p}" if not p.startswith(str(run_dir)) else p for p in problems]


@dataclass
class SubmittedGroup:
    """The accepted seeds of one run group of a submission, with their rows and matching preset."""

    track: str
    run_group: str
    runs: dict[int, Path]
    rows: dict[int, list[dict[str, Any]]]
    preset: str | None


def check_submission(source: Path, custom: bool = False) -> list[SubmittedGroup]:
    """The run groups of a submission; a SubmissionError listing the problems if any run is not acceptable."""
    runs = find_runs(source)
    if not runs:
        raise SubmissionError(f"{source} holds no run folders (<track>/<run_group>/seed-<s>/run_spec.json): "
                              "give the --results-dir of a `collapsebench sweep`.")
    groups: dict[tuple[str, str], SubmittedGroup] = {}
    problems: list[str] = []
    for run_dir in runs:
        spec, rows, preset, found = _check_run(run_dir, custom)
        problems += found
        if found:
            continue
        key = (spec["track"], spec["run_group"])
        group = groups.setdefault(key, SubmittedGroup(spec["track"], spec["run_group"], {}, {}, preset))
        group.runs[spec["seed"]] = run_dir
        group.rows[spec["seed"]] = rows
    if problems:
        shown = "; ".join(problems[:MAX_REASONS])
        more = f" (and {len(problems) - MAX_REASONS} more)" if len(problems) > MAX_REASONS else ""
        raise SubmissionError(f"submission rejected, nothing was copied: {shown}{more}")
    return [groups[key] for key in sorted(groups)]


def _stored_rows(group_dir: Path) -> dict[int, list[dict[str, Any]]]:
    return {read_spec(run)["seed"]: read_rows(run) for run in find_runs(group_dir)}


def _copy_group(group: SubmittedGroup, target: Path, record: dict[str, Any]) -> None:
    """Copy the runs (spec, rows, artifacts; no checkpoints) into ``target``, which must not exist yet."""
    staging = target.parent / f".{target.name}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        for seed, run_dir in sorted(group.runs.items()):
            dest = staging / f"seed-{seed}"
            dest.mkdir(parents=True)
            for name in (SPEC_FILE, ROWS_FILE):
                shutil.copy2(run_dir / name, dest / name)
            if (run_dir / "artifacts").is_dir():
                shutil.copytree(run_dir / "artifacts", dest / "artifacts", ignore=shutil.ignore_patterns(".*"))
        atomic_write_json(staging / SUBMISSION_FILE, record)
        os.rename(staging, target)  # fails if target appeared meanwhile: a published folder is never replaced
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def submit(source: Path, into: Path, custom: bool = False) -> list[Outcome]:
    """Validate ``source`` and add its run groups to the results tree ``into``; what happened to each."""
    outcomes = []
    for group in check_submission(Path(source), custom):
        track_dir = Path(into) / group.track
        revisions = stored_revisions(track_dir, group.run_group)
        seeds = tuple(sorted(group.runs))
        if revisions:
            newest = revisions[-1]
            if _stored_rows(track_dir / revision_folder(group.run_group, newest)) == group.rows:
                outcomes.append(Outcome(group.track, group.run_group, "unchanged", newest, group.preset, seeds))
                continue
        revision = revisions[-1] + 1 if revisions else 1
        record = {
            "submission_version": SUBMISSION_VERSION, "track": group.track, "run_group": group.run_group,
            "revision": revision, "preset": group.preset, "custom": group.preset is None, "seeds": list(seeds),
            "supersedes": revisions[-1] if revisions else None, "submitted_at": utc_now(),
        }
        track_dir.mkdir(parents=True, exist_ok=True)
        _copy_group(group, track_dir / revision_folder(group.run_group, revision), record)
        action: Literal["added", "revised"] = "revised" if revisions else "added"
        outcomes.append(Outcome(group.track, group.run_group, action, revision, group.preset, seeds))
    return outcomes
