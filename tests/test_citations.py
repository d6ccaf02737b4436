"""Citations: every entry is valid BibTeX, each track cites its protocol, models and data, and
CITATION.cff is the rendering of collapsebench's own citation data."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from pybtex.database import BibliographyData, parse_string

from collapsebench import __version__
from collapsebench import cli as cli_module
from collapsebench.publish import citations

ROOT = Path(__file__).resolve().parents[1]

TRACK_KEYS = {
    "density": ["shumailov2024collapse", "gerstgrasser2024inevitable", "alpaydin1998digits", "collapsebench"],
    "text": ["shumailov2024collapse", "merity2016pointer", "zhang2022opt", "collapsebench"],
    "image": [
        "shumailov2024collapse", "alemohammad2024mad", "ho2020ddpm", "song2021ddim", "khosla2011dogs",
        "udacity_pet_images", "collapsebench",
    ],
}
"""What issue 6 asks each track to cite (the protocol, mitigation papers, models, data sets), then collapsebench."""


def _parse(text: str) -> BibliographyData:
    """Strict pybtex parse: a syntax error or a duplicate key raises."""
    return parse_string(text, "bibtex")


def _cli(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["collapsebench", *args])
    try:
        cli_module.main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_every_shared_entry_is_one_complete_bibtex_entry():
    constants = {name: value for name, value in vars(citations).items() if isinstance(value, str) and value.startswith("@")}
    assert len(constants) == 10  # the scan sees the entries at all
    for name, text in constants.items():
        entries = _parse(text).entries
        assert len(entries) == 1, name
        [(key, entry)] = entries.items()
        assert entry.fields["title"] and entry.persons["author"], name
        assert entry.type != "misc" or "eprint" in entry.fields or "howpublished" in entry.fields, name


@pytest.mark.parametrize("track", sorted(TRACK_KEYS))
def test_each_track_cites_its_protocol_models_and_data(track, monkeypatch, capsys):
    code, out, err = _cli(["cite", "--track", track], monkeypatch, capsys)

    assert (code, err) == (0, "")
    entries = _parse(out).entries
    assert list(entries.keys()) == TRACK_KEYS[track]
    assert entries["collapsebench"].fields["title"] == citations.HARNESS_CFF["title"]


def test_shumailov_entry_carries_the_nature_reference():
    entry = _parse(citations.SHUMAILOV_2024).entries["shumailov2024collapse"]
    assert (entry.fields["journal"], entry.fields["volume"], entry.fields["pages"]) == ("Nature", "631", "755--759")
    assert [p.last_names[0] for p in entry.persons["author"]][:2] == ["Shumailov", "Shumaylov"]


def test_a_track_without_a_citation_prints_collapsebench_only(tiny_track):
    assert list(_parse(citations.track_bibtex(tiny_track.track)).entries.keys()) == ["collapsebench"]


def test_cite_without_a_track_prints_collapsebench_from_the_cff_data(monkeypatch, capsys):
    code, out, _ = _cli(["cite"], monkeypatch, capsys)

    assert code == 0
    entry = _parse(out).entries["collapsebench"]
    assert entry.fields["title"] == citations.HARNESS_CFF["title"]
    assert str(entry.persons["author"][0]) == "{The collapsebench contributors}"
    assert f"version {__version__}" in entry.fields["note"]


def test_an_unknown_track_is_one_line_with_a_suggestion(monkeypatch, capsys):
    code, out, err = _cli(["cite", "--track", "txt"], monkeypatch, capsys)

    assert (code, out) == (2, "")
    assert err == "error: Unknown track 'txt'. Did you mean 'text'? Available: density, image, text.\n"


def test_cff_with_a_track_is_a_usage_error(monkeypatch, capsys):
    code, out, err = _cli(["cite", "--format", "cff", "--track", "text"], monkeypatch, capsys)
    assert (code, out) == (2, "")
    assert "drop --track" in err


def test_citation_cff_is_the_rendering_of_the_harness_data(monkeypatch, capsys):
    """Like a leaderboard and its results: edit citations.py, rerun `collapsebench cite --format cff > CITATION.cff`."""
    committed = (ROOT / "CITATION.cff").read_text()
    code, out, _ = _cli(["cite", "--format", "cff"], monkeypatch, capsys)

    assert code == 0 and out == committed
    cff = yaml.safe_load(committed)
    assert cff["cff-version"] == "1.2.0" and cff["version"] == __version__
    assert {"message", "title", "authors", "type", "license"} <= set(cff)
    [protocol] = cff["references"]
    assert protocol["doi"] == _parse(citations.SHUMAILOV_2024).entries["shumailov2024collapse"].fields["doi"]
