"""Stage 5, populations of models trained on each other's samples: config, mixtures, the lockstep runner, homogenisation, report.
Imports only stages 1–4 (``experiment``, ``plugin``, ``run``, ``publish``) and the base."""
