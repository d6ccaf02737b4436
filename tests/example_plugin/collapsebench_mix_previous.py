"""An example collapsebench plugin: the ``mix-previous`` mitigation.

Each generation trains on half the newest synthetic set and half the set before it (at
generation 1, the real train pool). Keeping one generation of memory damps the random walk of
pure replacement a little without any real data after generation 0 — a cheap baseline between
``replace`` and ``accumulate``.

Install with ``pip install .``; collapsebench finds it through ``[project.entry-points.collapsebench]``.
"""

from collapsebench import Mitigation, Samples, hookimpl


class MixPrevious(Mitigation):
    name = "mix-previous"
    description = "half the newest synthetic set, half the one before (the real data at generation 1)"
    history_window = 2

    def build(self, generation, real, history, rng, scorer):
        n = len(real.train)
        previous = history[-2] if len(history) >= 2 else real.train
        return Samples.concat([history[-1].subsample(n - n // 2, rng), previous.subsample(n // 2, rng)])


@hookimpl
def register_mitigations(register):
    register(MixPrevious)
