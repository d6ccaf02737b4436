"""Stage 3, executing and storing chains: the loop, the runner, executors, the run manifest, result files, provenance.
Imports only stages 1–2 (``experiment``, ``plugin``) and the base."""
