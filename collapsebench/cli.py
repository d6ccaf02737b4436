"""The ``collapsebench`` command line."""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from collapsebench import __version__
from collapsebench.errors import CollapseBenchError

if TYPE_CHECKING:
    from collapsebench.run.executors import Executor

DEFAULT_RESULTS = Path("runs")
COMMITTED_RESULTS = Path("leaderboards/results")
LEADERBOARD_DIR = Path("leaderboards")


@click.group()
@click.version_option(__version__, prog_name="collapsebench")
def cli() -> None:
    """Measure model collapse under recursive training, and compare mitigations."""


def _selection_options(func):
    func = click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key (YAML value), e.g. --set generations=20.")(func)
    func = click.option("--preset", help="A preset of the track, e.g. quick or paper.")(func)
    func = click.option("--track", help="Track name (see `collapsebench list`).")(func)
    func = click.argument("config_file", required=False, type=click.Path(path_type=Path))(func)
    func = click.option("--results-dir", type=click.Path(path_type=Path), default=DEFAULT_RESULTS, show_default=True)(func)
    func = click.option("--jobs", type=int, default=None, help="Parallel processes (default: CPU count); with --executor ray and no --address, the CPUs of the local Ray instance.")(func)
    func = click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True, help="Where chains run: local processes, or Ray tasks (pip install 'collapsebench[ray]').")(func)
    func = click.option("--address", default=None, help="Ray cluster to join (auto, host:6379, ray://host:10001); default: start Ray on this machine.")(func)
    func = click.option("--lock-wait", type=float, default=None, metavar="SECONDS", help="How long a chain waits for a run another process is writing before it fails (default: 0 with local, 120 with ray).")(func)
    return func


def _executor(executor: str, jobs: int | None, address: str | None) -> Executor:
    from collapsebench.run.executors import make_executor

    return make_executor(executor, jobs, address)


@cli.command()
@_selection_options
@click.option("--model", help="Model family (required unless the config file names one).")
@click.option("--mitigation", help="Mitigation, e.g. replace, retain:0.1, accumulate.")
@click.option("--seeds", help="Comma-separated seeds, e.g. 0,1,2.")
def run(config_file, track, preset, overrides, results_dir, jobs, executor, address, lock_wait, model, mitigation, seeds) -> None:
    """Run chains of one model under one mitigation (one chain per seed); resumes finished work."""
    from collapsebench.run.runner import resolve_run, run_configs

    config = resolve_run(config_file, track, preset, model, mitigation, seeds, list(overrides))
    run_configs([config], results_dir, executor=_executor(executor, jobs, address), lock_wait=lock_wait)


@cli.command()
@_selection_options
def sweep(config_file, track, preset, overrides, results_dir, jobs, executor, address, lock_wait) -> None:
    """Run a grid of models × mitigations × seeds in parallel (processes or Ray); resumes finished work."""
    from collapsebench.run.runner import resolve_sweep, run_configs

    config = resolve_sweep(config_file, track, preset, list(overrides))
    run_configs(config.runs(), results_dir, executor=_executor(executor, jobs, address), lock_wait=lock_wait)


@cli.command()
@click.argument("config_file", required=False, type=click.Path(path_type=Path))
@click.option("--track", help="Track name (see `collapsebench list`).")
@click.option("--preset", help="A population preset of the track, e.g. cross-quick.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key (YAML value), e.g. --set seeds=[0,1].")
@click.option("--results-dir", type=click.Path(path_type=Path), default=DEFAULT_RESULTS, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Folder for population-<track>.md/.png (default: --results-dir).")
@click.option("--jobs", type=int, default=1, show_default=True, help="Mixtures run in parallel processes.")
def population(config_file, track, preset, overrides, results_dir, out, jobs) -> None:
    """Models trained on each other's samples: self vs cross-model vs population mixtures, one report."""
    from collapsebench.population.report import write_population_report
    from collapsebench.population.runner import resolve_population_config, run_mixtures

    config = resolve_population_config(config_file, track, preset, list(overrides))
    run_mixtures(config, results_dir, jobs, report=lambda mixture: click.echo(f"mixture {mixture}: done", err=True))
    for path in write_population_report(results_dir, config.track, config.population_id(), out or results_dir, config.headline):
        click.echo(path)


@cli.command()
def plugins() -> None:
    """Loaded plugins as JSON: name, version, hooks (and any that failed, with the error)."""
    from collapsebench.plugin.catalog import describe_plugins

    click.echo(json.dumps(describe_plugins(), indent=2))


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_components(as_json: bool) -> None:
    """Tracks, models, data sources, mitigations and metrics, with metric directions."""
    from collapsebench.plugin.catalog import catalog, render_catalog

    entries = catalog()
    click.echo(json.dumps(entries, indent=2) if as_json else render_catalog(entries))


@cli.command()
@click.option("--track", "tracks", multiple=True, help="Only this track (repeatable; default: every track with results).")
@click.option("--results-dir", type=click.Path(path_type=Path), default=COMMITTED_RESULTS, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=LEADERBOARD_DIR, show_default=True, help="Folder for the tables, index.html and plots/.")
@click.option("--check", is_flag=True, help="Fail if the outputs in --out do not match the results (drift).")
@click.option("--no-plots", is_flag=True, help="Write the tables and the page but do not redraw the plots.")
def leaderboard(tracks: tuple[str, ...], results_dir: Path, out: Path, check: bool, no_plots: bool) -> None:
    """Render tables (Markdown, LaTeX, CSV, JSON), a summary, index.html and plots from stored results."""
    from collapsebench.publish.leaderboard import check_leaderboards, write_leaderboards

    if check:
        problems = check_leaderboards(results_dir, out, list(tracks) or None)
        if problems:
            raise CollapseBenchError(f"{len(problems)} leaderboard output(s) do not match the results: " + "; ".join(problems))
        click.echo(f"{out} matches {results_dir}")
    else:
        for path in write_leaderboards(results_dir, out, list(tracks) or None, plots=not no_plots):
            click.echo(path)


@cli.command()
@click.argument("source", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--into", type=click.Path(path_type=Path), default=COMMITTED_RESULTS, show_default=True, help="The published results tree.")
@click.option("--custom", is_flag=True, help="Accept configs that match no preset of their track (marked custom).")
def submit(source: Path, into: Path, custom: bool) -> None:
    """Validate a results folder and add its run groups to the results tree (a changed number is a new revision)."""
    from collapsebench.publish.submit import submit as submit_results

    for outcome in submit_results(source, into, custom):
        click.echo(str(outcome))
    click.echo(f"now run `collapsebench leaderboard --results-dir {into}` to render the tables")


@cli.command()
@click.option("--track", required=True)
@click.option("--results-dir", type=click.Path(path_type=Path), default=COMMITTED_RESULTS, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Folder for the PNGs  [default: leaderboards/plots/<track>]")
@click.option("--metric", "metrics", multiple=True, help="Metric or family to plot (default: the four families).")
def plot(track: str, results_dir: Path, out: Path | None, metrics: tuple[str, ...]) -> None:
    """PNG plots of metric vs generation with a 95% CI band per mitigation."""
    from collapsebench.publish.plot import plot_track

    out = LEADERBOARD_DIR / "plots" / track if out is None else out
    for path in plot_track(results_dir, track, out, list(metrics) or None):
        click.echo(path)


@cli.command()
@click.option("--track", default=None, help="Print this track's BibTeX (protocol, models, data sets) before collapsebench's own.")
@click.option("--format", "fmt", type=click.Choice(["bibtex", "cff"]), default="bibtex", show_default=True, help="cff: collapsebench's CITATION.cff.")
def cite(track: str | None, fmt: str) -> None:
    """What to cite: collapsebench itself, or a track's papers and data sets (BibTeX)."""
    from collapsebench.publish.citations import (
        harness_bibtex,
        harness_cff,
        track_bibtex,
    )

    if fmt == "cff":
        if track is not None:
            raise click.UsageError("--format cff prints collapsebench's own CITATION.cff; drop --track, or use --format bibtex.")
        click.echo(harness_cff(), nl=False)
    else:
        click.echo(track_bibtex(track) if track else harness_bibtex())


@cli.command("new-plugin")
@click.argument("name")
@click.option("--dir", "parent", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True, help="Folder to create the plugin's folder in.")
def new_plugin(name: str, parent: Path) -> None:
    """Scaffold a plugin package NAME: pyproject with the entry point, a mitigation module, a test."""
    from collapsebench.plugin.scaffold import scaffold_plugin

    click.echo(scaffold_plugin(name, parent))


def _add_plugin_commands() -> None:
    from collapsebench.plugin.loader import call_hook_per_plugin

    call_hook_per_plugin("register_commands", lambda plugin: {"cli": cli})


def os_error_message(exc: OSError) -> str:
    """One line for a failed read or write, naming the fix; finished generations are already safe."""
    where = f" ({exc.filename})" if exc.filename else ""
    resume = "then rerun the same command: finished generations are kept and it resumes after them."
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left on the device{where}: free some space or pass a --results-dir on a disk with room, {resume}"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{exc.strerror}{where}: make it writable or pass a --results-dir you can write to, {resume}"
    return f"{exc.strerror or exc}{where}: fix the file or folder it names, {resume}"


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2; a failed read or write, exit 1."""
    try:
        _add_plugin_commands()
        cli(standalone_mode=False)
    except CollapseBenchError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(f"error: {os_error_message(exc)}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted: finished generations are saved; rerun the same command to resume", err=True)
        sys.exit(130)
