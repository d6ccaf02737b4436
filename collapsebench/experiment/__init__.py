"""Stage 1, what a chain is: samples, real data, models, metrics, mitigations, tracks, options, configs, seeding.
Imports only the base (``collapsebench.errors``, ``collapsebench.files``, ``hookimpl``)."""
