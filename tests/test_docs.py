"""The docs are held to the code (datasette's meta-tests): every hook is documented with the exact
signature its spec has, every testing fixture and evaluate adapter has its section, links
resolve, and the plugin tutorial works as written — its files and commands, run in a temporary
folder, give the leaderboard rows it prints, and the testing page's examples pass against it."""

from __future__ import annotations

import ast
import inspect
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from collapsebench import testing
from collapsebench.plugin import hookspecs
from collapsebench.publish.evaluate_adapters import module_paths

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
HEADING = re.compile(r"^(#+) (.+?)\s*$", re.M)
LINK = re.compile(r"\]\((?!https?://)(?P<path>[^)#\s]*)(?:#(?P<anchor>[^)\s]+))?\)")
CLI = "from collapsebench.cli import main; main()"


def _code_blocks(text: str) -> list[tuple[str, str]]:
    """(info string, body) of each fenced block in document order, indentation removed."""
    out = []
    for m in FENCE.finditer(text):
        indent = len(m["indent"])
        body = "".join(line[indent:] for line in m["body"].splitlines(keepends=True))
        out.append((m["info"].strip(), body))
    return out


def _headings(text: str, level: int) -> list[str]:
    prose = FENCE.sub("", text)
    return [m[2] for m in HEADING.finditer(prose) if len(m[1]) == level]


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_every_hook_is_documented_with_the_signature_of_its_spec():
    specs = {name: fn for name, fn in vars(hookspecs).items() if hasattr(fn, "collapsebench_spec")}
    assert "register_tracks" in specs  # the scan sees the hookspecs at all
    expected = {f"`{name}{inspect.signature(fn)}`" for name, fn in specs.items()}

    documented = set(_headings((DOCS / "hooks.md").read_text(), 2))

    assert sorted(expected - documented) == [], "hooks missing from docs/hooks.md (or documented with another signature)"
    assert sorted(documented - expected) == [], "docs/hooks.md documents hooks or signatures that hookspecs.py does not have"


def test_every_testing_fixture_is_documented():
    tree = ast.parse(Path(testing.__file__).read_text())
    fixtures = {
        f"`{node.name}`"
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and any("fixture" in ast.unparse(d) for d in node.decorator_list)
    }
    assert fixtures == {"`collapsebench_plugin`", "`tiny_track`", "`results_dir`"}
    assert fixtures <= set(_headings((DOCS / "testing-plugins.md").read_text(), 2))


def test_every_evaluate_adapter_is_documented():
    page = (DOCS / "evaluate-adapters.md").read_text()
    adapters = module_paths()
    assert {m for m in adapters if f"| `{m}` |" in page} == set(adapters)


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_links_between_pages_resolve(page):
    _assert_links_resolve(page)


def _assert_links_resolve(page: Path) -> None:
    for m in LINK.finditer(FENCE.sub("", page.read_text())):
        target = (page.parent / m["path"]).resolve() if m["path"] else page
        assert target.exists(), f"{page.name} links to {m['path']}, which does not exist"
        if m["anchor"] and target.suffix == ".md":
            anchors = {_slug(h) for level in range(1, 5) for h in _headings(target.read_text(), level)}
            assert m["anchor"] in anchors, f"{page.name} links to {m['path']}#{m['anchor']}, which has no such heading"


def _table(lines: list[str]) -> tuple[list[str], list[list[str]]]:
    """Column names (a "±" column takes the name of the one before it) and rows of a Markdown table."""
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines if line.startswith("|")]
    names: list[str] = []
    for cell in cells[0]:
        names.append(f"{names[-1]} ±" if cell == "±" and names else cell)
    return names, [row for row in cells[2:]]


def _first_table(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return lines[start:end]


def _tutorial_command(line: str, site: Path) -> list[str]:
    """The tutorial's shell line as this test runs it: installs go to a folder, not the environment."""
    argv = shlex.split(line)
    if argv[0] == "collapsebench":
        return [sys.executable, "-c", CLI, *argv[1:]]
    if argv[:3] == ["pip", "install", "-e"]:
        return [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
                "--no-cache-dir", "--target", str(site), argv[3]]
    if argv[0] == "pytest":  # importlib mode: the tests import the installed module, not the source folder's
        return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib", *argv[1:]]
    pytest.fail(f"docs/writing-a-plugin.md runs `{line}`, which this test does not know how to run")


def test_the_plugin_tutorial_works_as_written(tmp_path):
    blocks = _code_blocks((DOCS / "writing-a-plugin.md").read_text())
    site = tmp_path / "site"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLLAPSEBENCH_")}
    env.update(PYTHONPATH=str(site), COLLAPSEBENCH_LOAD_PLUGINS="density,decay")
    outputs: dict[str, str] = {}
    snippets: list[str] = []
    commands = 0

    for info, body in blocks:
        title = re.search(r'title="([^"]+)"', info)
        if info == "console":
            for line in body.splitlines():
                assert line.startswith("$ "), f"a console block holds a line that is not a command: {line!r}"
                done = subprocess.run(_tutorial_command(line[2:], site), cwd=tmp_path, env=env,
                                      capture_output=True, text=True, timeout=300)
                assert done.returncode == 0, f"`{line[2:]}` failed:\n{done.stdout}\n{done.stderr}"
                outputs[line[2:]] = done.stdout
                commands += 1
        elif title and info.startswith("text"):
            outputs[f"expected:{title[1]}"] = body
        elif title:
            path = tmp_path / title[1]
            assert path.parent.is_dir(), f"the tutorial writes {title[1]} before its folder exists"
            path.write_text(body)
        else:
            snippets.append(body)

    assert commands == 6
    plugins = outputs["collapsebench plugins"]
    assert '"name": "decay"' in plugins and '"register_mitigations"' in plugins
    assert snippets[0] in (tmp_path / "collapsebench-decay" / "pyproject.toml").read_text()

    expected_names, expected_rows = _table(outputs["expected:leaderboard/density.md"].splitlines())
    names, rows = _table(_first_table((tmp_path / "leaderboard" / "density.md").read_text()))
    assert set(expected_names) <= set(names), f"the leaderboard's columns are now {names}: update the tutorial"
    got = {(row[names.index("model")], row[names.index("mitigation")]): row for row in rows}
    assert len(got) == len(expected_rows) == 3
    for expected in expected_rows:
        row = got[(expected[0], expected[1])]
        actual = [row[names.index(name)] for name in expected_names]
        assert actual == expected, "rerun the tutorial and paste its headline rows into docs/writing-a-plugin.md"

    # The testing page's examples test the tutorial's plugin: run them as its users would.
    examples = [body for info, body in _code_blocks((DOCS / "testing-plugins.md").read_text()) if info == "python"]
    plugin = tmp_path / "collapsebench-decay"
    (plugin / "test_testing_page.py").write_text("\n\n".join(examples))
    done = subprocess.run(_tutorial_command("pytest test_testing_page.py", site), cwd=plugin, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and f"{len(examples)} passed" in done.stdout, done.stdout + done.stderr


README_PAGES = [ROOT / "README.md", *sorted(ROOT.glob("plugins/*/README.md"))]


def test_the_readme_is_a_front_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) <= 8 * 1024, "the README is a front page: move detail into docs/"
    for command in ("bash .ci/main", "bash .ci/test"):
        assert command in readme
    screenshot = ROOT / "docs" / "leaderboard.png"
    assert f"]({screenshot.relative_to(ROOT)})" in readme
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size <= 300 * 1024
    linked = {m["path"] for m in LINK.finditer(FENCE.sub("", readme))}
    assert {"docs/concepts.md", "plugins/density/README.md", "plugins/text/README.md", "plugins/image/README.md",
            "docs/scale-out.md", "docs/results-format.md", "docs/submitting-results.md", "docs/populations.md",
            "docs/performance.md", "docs/dependencies.md"} <= linked


@pytest.mark.parametrize("page", README_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_from_the_readmes_resolve(page):
    _assert_links_resolve(page)
