"""Entry point of the text track: registers its track, data source, model family and metrics."""

from collapsebench import hookimpl
from collapsebench_text import data, metrics, opt, track


@hookimpl
def register_tracks(register):
    register(track.TextTrack)


@hookimpl
def register_data_sources(register):
    for cls in data.DATA_SOURCES:
        register(cls)


@hookimpl
def register_models(register):
    for cls in opt.MODELS:
        register(cls)


@hookimpl
def register_metrics(register):
    for cls in metrics.METRICS:
        register(cls)
