"""The registries: did-you-mean errors, duplicates between plugins, wrong-typed registrations."""

from __future__ import annotations

import pytest

from collapsebench import hookimpl
from collapsebench.errors import CollapseBenchError, UnknownNameError
from collapsebench.experiment.metrics import Metric
from collapsebench.experiment.mitigations import Mitigation, Replace, Retain
from collapsebench.plugin.catalog import describe_plugins
from collapsebench.plugin.loader import load_failures
from collapsebench.plugin.registry import Registries, Registry, registries


class Plugin:
    """A plugin object that registers ``mitigations`` and ``metrics``."""

    def __init__(self, mitigations: tuple = (), metrics: tuple = ()) -> None:
        self._mitigations, self._metrics = mitigations, metrics

    @hookimpl
    def register_mitigations(self, register):
        for cls in self._mitigations:
            register(cls)

    @hookimpl
    def register_metrics(self, register):
        for cls in self._metrics:
            register(cls)


def test_unknown_mitigation_suggests_the_closest_name_and_lists_the_rest():
    with pytest.raises(UnknownNameError) as exc:
        registries().mitigation("retian:0.1")
    available = ", ".join(registries().mitigations.names())
    assert {"accumulate", "accumulate-subsample", "filter", "fresh", "replace", "retain"} <= set(available.split(", "))
    assert str(exc.value) == f"Unknown mitigation 'retian:0.1'. Did you mean 'retain'? Available: {available}."


def test_unknown_name_without_a_close_match_lists_what_there_is(tiny_track):
    with pytest.raises(UnknownNameError, match=r"^Unknown track 'zzzz'\. Available: .*tiny"):
        registries().tracks.get("zzzz")
    with pytest.raises(UnknownNameError, match=r"Unknown model 'tiny-gausian'\. Did you mean 'tiny-gaussian'\?"):
        registries().models.get("tiny-gausian")


def test_mitigation_spec_is_parsed_into_name_and_param():
    mitigation = registries().mitigation("retain:0.25")
    assert isinstance(mitigation, Retain)
    assert (mitigation.param, mitigation.spec, mitigation.fraction()) == ("0.25", "retain:0.25", 0.25)
    assert registries().mitigation("replace").spec == "replace"


def test_the_same_name_from_two_plugins_is_reported_with_both_owners(collapsebench_plugin, capsys):
    class First(Replace):
        name = "twin"

    class Second(Replace):
        name = "twin"

    collapsebench_plugin(Plugin(mitigations=(First,)), name="first")
    collapsebench_plugin(Plugin(mitigations=(Second,)), name="second")

    assert registries().mitigations.get("twin") is First
    [failure] = [f for f in load_failures if f.name == "second"]
    assert failure.stage == "register_mitigations"
    assert "mitigation 'twin' is registered twice, by 'first' and 'second'" in failure.error
    assert "COLLAPSEBENCH_BLOCK_PLUGINS=second" in capsys.readouterr().err


def test_registering_the_same_class_twice_is_harmless():
    registry = Registry("mitigation", Mitigation)
    registry.add(Replace, "a")
    registry.add(Replace, "a")
    assert registry.names() == ["replace"]


@pytest.mark.parametrize(
    ("registered", "message"),
    [
        ("replace", "register_mitigations expects Mitigation subclasses, got 'replace'"),
        (Metric, "register_mitigations expects Mitigation subclasses, got <class 'collapsebench.experiment.metrics.Metric'>"),
        (type("Nameless", (Replace,), {"name": ""}), "Nameless needs a non-empty class attribute 'name'"),
    ],
)
def test_a_wrong_typed_registration_is_reported_by_plugin(collapsebench_plugin, registered, message):
    collapsebench_plugin(Plugin(mitigations=(registered,)), name="sloppy")

    assert "retain" in registries().mitigations  # the others still register
    failures = [r for r in describe_plugins() if r.get("name") == "sloppy" and "error" in r]
    assert failures == [{"name": "sloppy", "stage": "register_mitigations", "error": f"TypeError: {message}"}]


class Dizzy(Metric):
    name = "dizzy"
    higher_is_better = True

    def compute(self, ctx):
        return 0.0


def test_a_metric_with_an_unknown_family_fails_the_check(collapsebench_plugin):
    collapsebench_plugin(Plugin(metrics=(type("Odd", (Dizzy,), {"family": "vibes"}),)))
    with pytest.raises(CollapseBenchError, match=r"metric 'dizzy' has family 'vibes'; use one of"):
        registries()


def test_a_metric_without_a_direction_fails_the_check(collapsebench_plugin):
    collapsebench_plugin(Plugin(metrics=(type("Aimless", (Dizzy,), {"higher_is_better": None}),)))
    with pytest.raises(CollapseBenchError, match=r"metric 'dizzy' must set higher_is_better = True or False"):
        registries()


def test_models_of_lists_a_tracks_models(tiny_track):
    assert registries().models_of(tiny_track.track) == [tiny_track.model]
    assert Registries().models_of(tiny_track.track) == []
