"""Stage 4, result rows → the public record: aggregation, tables, leaderboards, plots, the page, submit, schemas, citations.
Imports only stages 1–3 (``experiment``, ``plugin``, ``run``) and the base."""
