"""BibTeX entries that several tracks cite, kept once."""

SHUMAILOV_2024 = """@article{shumailov2024collapse,
  title   = {{AI} models collapse when trained on recursively generated data},
  author  = {Shumailov, Ilia and Shumaylov, Zakhar and Zhao, Yiren and Papernot, Nicolas and Anderson, Ross and Gal, Yarin},
  journal = {Nature},
  volume  = {631},
  number  = {8022},
  pages   = {755--759},
  year    = {2024},
  doi     = {10.1038/s41586-024-07566-y}
}"""
"""Shumailov et al., Nature 2024: the protocol every track follows."""
