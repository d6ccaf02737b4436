"""Config files (TOML, YAML), ``--set`` overrides, sweep grids and the config hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from collapsebench.errors import ConfigError
from collapsebench.experiment.config import (
    RunConfig,
    SweepConfig,
    apply_overrides,
    parse_run,
    parse_sweep,
    read_config_file,
)

SWEEP_TOML = """
track = "density"
generations = 20
mitigations = ["replace", "retain:0.1"]
seeds = [0, 1, 2]

[sampling]
temperature = 0.9

[models.gaussian]

[models.gmm]
generations = 5
options = {components = 3}
"""

SWEEP_YAML = """
track: density
generations: 20
mitigations: [replace, "retain:0.1"]
seeds: [0, 1, 2]
sampling: {temperature: 0.9}
models:
  gaussian: {}
  gmm:
    generations: 5
    options: {components: 3}
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _sweep_error(tmp_path: Path, text: str) -> str:
    path = _write(tmp_path, "sweep.toml", text)
    with pytest.raises(ConfigError) as exc:
        parse_sweep(read_config_file(path), str(path.name))
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_toml_and_yaml_describe_the_same_sweep(tmp_path):
    from_toml = parse_sweep(read_config_file(_write(tmp_path, "s.toml", SWEEP_TOML)), "s.toml")
    for suffix in (".yaml", ".yml"):
        from_yaml = parse_sweep(read_config_file(_write(tmp_path, f"s{suffix}", SWEEP_YAML)), f"s{suffix}")
        assert from_yaml == from_toml
    assert from_toml.generations == 20 and from_toml.models["gmm"].generations == 5


def test_a_sweep_is_the_grid_of_models_and_mitigations_with_per_model_overrides(tmp_path):
    sweep = parse_sweep(read_config_file(_write(tmp_path, "s.toml", SWEEP_TOML)), "s.toml")

    runs = sweep.runs()

    assert [(r.model, r.mitigation) for r in runs] == [
        ("gaussian", "replace"), ("gaussian", "retain:0.1"), ("gmm", "replace"), ("gmm", "retain:0.1"),
    ]
    assert all(r.track == "density" and r.seeds == [0, 1, 2] for r in runs)
    assert all(r.sampling == {"temperature": 0.9} for r in runs)  # sweep-wide settings reach every run
    gaussian, gmm = runs[0], runs[2]
    assert (gaussian.generations, gaussian.options) == (20, {})
    assert (gmm.generations, gmm.options) == (5, {"components": 3})


def test_a_model_override_is_merged_into_the_sweep_table():
    sweep = SweepConfig(track="t", options={"a": 1, "b": 2}, models={"m": {"options": {"a": 5}}})
    assert sweep.runs()[0].options == {"a": 5, "b": 2}


def test_an_unknown_key_suggests_the_closest_one(tmp_path):
    message = _sweep_error(tmp_path, 'track = "density"\ngeneratons = 5\n[models.gmm]\n')
    assert message.startswith("Unknown key 'generatons' in sweep.toml. Did you mean 'generations'? Allowed: ")
    assert "mitigations" in message


def test_an_unknown_key_inside_a_model_table_names_the_model(tmp_path):
    message = _sweep_error(tmp_path, 'track = "density"\n[models.gmm]\ngeneratons = 5\n')
    assert message.startswith("Unknown key 'models.gmm.generatons' in sweep.toml. Did you mean 'generations'?")
    # only what a model may override is offered
    assert message.endswith("Allowed: data, generations, init, on_collapse, options, sampling.")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('track = "d"\ngenerations = -1\n[models.m]\n', "Invalid value for 'generations' in sweep.toml: "),
        ('track = "d"\ninit = "sideways"\n[models.m]\n', "Invalid value for 'init' in sweep.toml: "),
        ('track = "d"\n[models.m]\non_collapse = "panic"\n', "Invalid value for 'models.m.on_collapse'"),
        ("generations = 3\n[models.m]\n", "Invalid value for 'track' in sweep.toml: Field required"),
    ],
)
def test_a_bad_value_is_a_one_line_error_naming_the_key(tmp_path, text, expected):
    assert _sweep_error(tmp_path, text).startswith(expected)


def test_a_run_config_rejects_sweep_keys():
    with pytest.raises(ConfigError, match=r"^Unknown key 'mitigations' in run\.toml\. Did you mean 'mitigation'\?"):
        parse_run({"track": "d", "model": "m", "mitigations": ["replace"]}, "run.toml")


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("bad.toml", "generations = = 3\n", r"^Config file '.*bad\.toml' is malformed: .+\. Fix its syntax\.$"),
        ("bad.yaml", "models: [unclosed\n", r"^Config file '.*bad\.yaml' is malformed: .+\. Fix its syntax\.$"),
        ("list.yaml", "- a\n- b\n", r"^Config file '.*list\.yaml' must hold a table of settings, not list\.$"),
        ("sweep.json", "{}", r"^Config file '.*sweep\.json' must end in \.toml, \.yaml or \.yml\.$"),
    ],
)
def test_a_malformed_file_is_a_one_line_error(tmp_path, name, text, expected):
    with pytest.raises(ConfigError, match=expected) as exc:
        read_config_file(_write(tmp_path, name, text))
    assert "\n" not in str(exc.value)


def test_a_missing_file_says_what_to_give(tmp_path):
    with pytest.raises(ConfigError, match=r"^Config file '.*nope\.toml' does not exist; give the path of a"):
        read_config_file(tmp_path / "nope.toml")


def test_an_empty_yaml_file_is_an_empty_table(tmp_path):
    assert read_config_file(_write(tmp_path, "empty.yaml", "")) == {}


def test_overrides_parse_yaml_values_and_nest():
    base = {"track": "density", "generations": 10, "models": {"gmm": {}}}

    data = apply_overrides(
        base,
        [
            "generations=20",
            "seeds=[0, 1, 2]",
            "mitigations=[replace, retain:0.1]",
            "sampling.temperature=0.7",
            "options.hidden.sizes=[64, 64]",
            "models.gmm.generations=5",
            "init=previous",
            "data.path=",
        ],
    )

    assert data == {
        "track": "density",
        "generations": 20,
        "seeds": [0, 1, 2],
        "mitigations": ["replace", "retain:0.1"],
        "sampling": {"temperature": 0.7},
        "options": {"hidden": {"sizes": [64, 64]}},
        "models": {"gmm": {"generations": 5}},
        "init": "previous",
        "data": {"path": ""},
    }
    assert base == {"track": "density", "generations": 10, "models": {"gmm": {}}}  # not mutated
    assert parse_sweep(data, "overrides").runs()[0].generations == 5


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("generations", r"^Override 'generations' must look like key=value, e\.g\. generations=20\.$"),
        ("=3", r"^Override '=3' must look like key=value"),
        ("generations.max=3", r"^Override 'generations\.max=3': 'generations' is not a table\.$"),
    ],
)
def test_a_bad_override_is_a_config_error(override, expected):
    with pytest.raises(ConfigError, match=expected):
        apply_overrides({"generations": 10}, [override])


def test_an_overridden_unknown_key_is_caught_like_one_in_a_file():
    data = apply_overrides({"track": "d", "model": "m"}, ["generatons=3"])
    with pytest.raises(ConfigError, match=r"^Unknown key 'generatons' in --set\. Did you mean 'generations'\?"):
        parse_run(data, "--set")


def test_the_config_hash_ignores_seeds_and_chain_length_only():
    base = RunConfig(track="density", model="gaussian", mitigation="retain:0.1")

    assert base.config_hash() == RunConfig(**base.model_dump()).config_hash()
    assert base.config_hash() == base.model_copy(update={"seeds": [3, 4], "generations": 99}).config_hash()
    for change in ({"mitigation": "replace"}, {"options": {"ddof": 1}}, {"sampling": {"temperature": 0.5}},
                   {"init": "previous"}, {"data": {"n": 10}}, {"model": "gmm"}):
        assert base.model_copy(update=change).config_hash() != base.config_hash(), change


def test_the_config_hash_does_not_depend_on_key_order():
    a = RunConfig(track="t", model="m", options={"a": 1, "b": {"c": 2, "d": 3}})
    b = RunConfig(track="t", model="m", options={"b": {"d": 3, "c": 2}, "a": 1})
    assert a.config_hash() == b.config_hash()


def test_the_config_hash_is_pinned():
    """Stored results are grouped by this hash: changing it orphans every results folder."""
    config = RunConfig(track="density", model="gaussian", mitigation="retain:0.1")
    assert config.config_hash() == "cfddc0fd0f"
    assert config.run_group() == "gaussian__retain-0.1__cfddc0fd0f"
