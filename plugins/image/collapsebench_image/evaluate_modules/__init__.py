"""Hugging Face ``evaluate`` modules of this track's metrics (Fréchet distance and k-NN precision/recall on features), one file each.

Each file is loaded by its path, not imported: ``evaluate.load(module_path(name))`` with
``module_path`` from ``collapsebench.publish.evaluate_adapters``, which finds them here.
"""
