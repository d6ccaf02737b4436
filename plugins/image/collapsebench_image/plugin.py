"""Entry point of the image track: registers its track, data sources, model family and metrics."""

from collapsebench import hookimpl
from collapsebench_image import data, ddpm, metrics, track


@hookimpl
def register_tracks(register):
    register(track.ImageTrack)


@hookimpl
def register_data_sources(register):
    register(data.ProceduralDogs)
    register(data.BreedFolder)


@hookimpl
def register_models(register):
    for cls in ddpm.MODELS:
        register(cls)


@hookimpl
def register_metrics(register):
    for cls in metrics.METRICS:
        register(cls)
