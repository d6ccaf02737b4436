"""Entry point of the density track: registers its track, data sources, models and metrics."""

from collapsebench import hookimpl
from collapsebench_density import gaussian, gmm, track, vae


@hookimpl
def register_tracks(register):
    register(track.DensityTrack)


@hookimpl
def register_data_sources(register):
    for cls in (*gaussian.DATA_SOURCES, *gmm.DATA_SOURCES, *vae.DATA_SOURCES):
        register(cls)


@hookimpl
def register_models(register):
    for cls in (*gaussian.MODELS, *gmm.MODELS, *vae.MODELS):
        register(cls)


@hookimpl
def register_metrics(register):
    for cls in (*gaussian.METRICS, *gmm.METRICS, *vae.METRICS):
        register(cls)
