"""Training sets mixed from real data and a population's samples, with exact counts per source.

A population (``collapsebench.population.runner``) steps P models together; each generation, member i
trains on a mixture of the real train pool and the members' latest synthetic sets. Like the
mitigations, the mixture only selects and concatenates Samples, so it serves every modality, and
every sample keeps its provenance (``source`` = the member that drew it, ``generation``).

A mixture is written ``<setting>:<r>`` with a named setting and real share r, or as explicit
weights ``real=0.2,own=0.3,others=0.5``. The named settings share r so that they compare fairly:

- ``self``: r real + (1 − r) own samples (a retain:r chain; the members never meet);
- ``cross``: r real + (1 − r) split evenly over the *other* members, none of its own;
- ``population``: r real + (1 − r) split evenly over all P members, its own included (a shared web corpus).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from collapsebench.errors import ConfigError
from collapsebench.experiment.mitigations import Mitigation
from collapsebench.experiment.samples import REAL, Samples

SETTINGS = ("self", "cross", "population")
WEIGHT_KEYS = ("real", "own", "others")
PREFIX = "mix"
"""Population members record their mixture as the mitigation ``mix:<mixture>:<member>~<population id>``."""


@dataclass(frozen=True)
class MixWeights:
    """Shares of the training set: real data, the member's own samples, the other members' (split evenly).

    ``pooled``: the non-real share is split evenly over all P members, own included (``own`` and
    ``others`` then follow from P).
    """

    real: float
    own: float
    others: float
    pooled: bool = False

    @classmethod
    def parse(cls, text: str) -> MixWeights:
        """``self:0.1``, ``cross:0.1``, ``population:0.1``, or explicit ``real=…,own=…,others=…``."""
        name, sep, param = text.partition(":")
        if "=" in text:
            return cls._explicit(text)
        if name not in SETTINGS or not sep:
            raise ConfigError(
                f"Mixture '{text}' is neither '<setting>:<r>' with a setting in {', '.join(SETTINGS)} "
                "(e.g. cross:0.1) nor explicit weights (e.g. real=0.1,own=0.45,others=0.45)."
            )
        r = _fraction(param, text)
        return {"self": cls(r, 1 - r, 0.0), "cross": cls(r, 0.0, 1 - r), "population": cls(r, 0.0, 0.0, pooled=True)}[name]

    @classmethod
    def _explicit(cls, text: str) -> MixWeights:
        weights: dict[str, float] = {}
        for item in text.split(","):
            key, _, value = item.partition("=")
            key = key.strip()
            if key not in WEIGHT_KEYS or key in weights:
                raise ConfigError(f"Mixture '{text}': weights are real=, own= and others=, each at most once (got '{key}').")
            weights[key] = _fraction(value, text)
        total = sum(weights.values())
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise ConfigError(f"Mixture '{text}': the weights sum to {total:g}; make them sum to 1.")
        return cls(weights.get("real", 0.0), weights.get("own", 0.0), weights.get("others", 0.0))

    def shares(self, me: str, members: Sequence[str]) -> dict[str, float]:
        """Share of each source ("real" and every member name) in member ``me``'s training set."""
        others = [m for m in members if m != me]
        if self.pooled:
            own, rest = (1 - self.real) / len(members), (1 - self.real) * len(others) / len(members)
        else:
            own, rest = self.own, self.others
        if rest > 0 and not others:
            raise ConfigError(f"Member '{me}' has no other members to draw its {rest:g} share from; add a member.")
        shares = {REAL: self.real, me: own}
        shares.update({m: rest / len(others) for m in others})
        return shares


def _fraction(value: str, text: str) -> float:
    try:
        r = float(value)
    except ValueError:
        r = math.nan
    if not 0 <= r <= 1:
        raise ConfigError(f"Mixture '{text}': '{value}' must be a share in [0, 1], e.g. 0.1.")
    return r


def exact_counts(shares: Mapping[str, float], n: int) -> dict[str, int]:
    """Counts summing to exactly ``n`` by largest remainder (Hamilton); ties go to the earlier source."""
    total = sum(shares.values())
    quotas = {k: n * v / total for k, v in shares.items()}
    counts = {k: math.floor(q) for k, q in quotas.items()}
    order = sorted(quotas, key=lambda k: -(quotas[k] - counts[k]))  # sorted() is stable: ties keep their order
    for key in order[: n - sum(counts.values())]:
        counts[key] += 1
    return counts


def build_mixture(counts: Mapping[str, int], real: Samples, latest: Mapping[str, Samples], rng: np.random.Generator) -> Samples:
    """``counts[s]`` samples drawn without replacement from each source (``real`` or a member's ``latest``)."""
    parts = []
    for source, count in counts.items():
        pool = real if source == REAL else latest.get(source)
        if pool is None:
            raise ValueError(f"no samples of source '{source}' to draw {count} from")
        parts.append(pool.subsample(count, rng))
    return Samples.concat(parts)


class Mix(Mitigation):
    """The mixture as a population member's mitigation: it records the mixture in the run's identity.

    ``param`` is ``<mixture>:<member>~<population id>``. It is not a registered mitigation: its
    training sets need the other members' samples, which only the population runner has.
    ``history_window`` is 2 so that a member one generation ahead of a killed population still
    holds the samples its peers need to resume.
    """

    name = PREFIX
    description = "a population member's mixture of real data and the members' samples (collapsebench population)"
    param_required = True
    history_window = 2

    def __init__(self, param: str | None = None) -> None:
        super().__init__(param)
        mixture, _, member = (param or "").rpartition(":")
        self.me, _, self.population_id = member.partition("~")
        self.weights = MixWeights.parse(mixture)
        self.mixture = mixture

    def check(self) -> None:
        """Parsed in ``__init__``."""

    def build(self, generation, real, history, rng, scorer):
        raise ConfigError("Mixture 'mix' needs the other members' samples: run it with `collapsebench population`.")


def member_mitigation(mixture: str, me: str, population_id: str) -> str:
    """The mitigation string recorded for member ``me``: mixture, member and population in the run's identity."""
    return f"{PREFIX}:{mixture}:{me}~{population_id}"
