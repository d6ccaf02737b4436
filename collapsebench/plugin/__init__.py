"""Stage 2, how plugins come in: hook specs, the entry-point loader, registries, resolving a config, the catalog, the scaffold.
Imports only stage 1 (``collapsebench.experiment``) and the base."""
