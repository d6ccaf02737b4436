"""What to cite: BibTeX entries the tracks share, and collapsebench's own citation (CITATION.cff).

A track's ``citation`` is a string of BibTeX entries, built with ``bibliography(...)`` from the
constants here (the protocol, the mitigation papers, the data sets, the model papers).
``CITATION.cff`` at the repository root is rendered from ``HARNESS_CFF`` (``collapsebench cite
--format cff``), and a test fails when the two disagree.
"""

from __future__ import annotations

from typing import Any

import yaml

from collapsebench import __version__

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

GERSTGRASSER_2024 = """@misc{gerstgrasser2024inevitable,
  title         = {Is Model Collapse Inevitable? {B}reaking the Curse of Recursion by Accumulating Real and Synthetic Data},
  author        = {Gerstgrasser, Matthias and Schaeffer, Rylan and Dey, Apratim and Rafailov, Rafael and Sleight, Henry and Hughes, John and Korbak, Tomasz and Agrawal, Rajashree and Pai, Dhruv and Gromov, Andrey and Roberts, Daniel A. and Yang, Diyi and Donoho, David L. and Koyejo, Sanmi},
  year          = {2024},
  eprint        = {2404.01413},
  archivePrefix = {arXiv}
}"""
"""Gerstgrasser et al. 2024: the ``accumulate`` mitigation."""

ALEMOHAMMAD_2024 = """@inproceedings{alemohammad2024mad,
  title     = {Self-Consuming Generative Models Go {MAD}},
  author    = {Alemohammad, Sina and Casco-Rodriguez, Josue and Luzi, Lorenzo and Humayun, Ahmed Imtiaz and Babaei, Hossein and LeJeune, Daniel and Siahkoohi, Ali and Baraniuk, Richard G.},
  booktitle = {The Twelfth International Conference on Learning Representations (ICLR)},
  year      = {2024}
}"""
"""Alemohammad et al., ICLR 2024: self-consuming loops of image generators (fresh data, sampling bias)."""

MERITY_2016 = """@misc{merity2016pointer,
  title         = {Pointer Sentinel Mixture Models},
  author        = {Merity, Stephen and Xiong, Caiming and Bradbury, James and Socher, Richard},
  year          = {2016},
  eprint        = {1609.07843},
  archivePrefix = {arXiv}
}"""
"""The WikiText data set (wikitext-2)."""

ZHANG_2022 = """@misc{zhang2022opt,
  title         = {{OPT}: Open Pre-trained Transformer Language Models},
  author        = {Zhang, Susan and Roller, Stephen and Goyal, Naman and Artetxe, Mikel and Chen, Moya and Chen, Shuohui and Dewan, Christopher and Diab, Mona and Li, Xian and Lin, Xi Victoria and others},
  year          = {2022},
  eprint        = {2205.01068},
  archivePrefix = {arXiv}
}"""
"""The OPT language models the text track fine-tunes."""

HO_2020 = """@inproceedings{ho2020ddpm,
  title     = {Denoising Diffusion Probabilistic Models},
  author    = {Ho, Jonathan and Jain, Ajay and Abbeel, Pieter},
  booktitle = {Advances in Neural Information Processing Systems},
  volume    = {33},
  pages     = {6840--6851},
  year      = {2020}
}"""
"""DDPM: the image track's diffusion model."""

SONG_2021 = """@inproceedings{song2021ddim,
  title     = {Denoising Diffusion Implicit Models},
  author    = {Song, Jiaming and Meng, Chenlin and Ermon, Stefano},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2021}
}"""
"""DDIM: the image track's sampler."""

ALPAYDIN_1998 = """@misc{alpaydin1998digits,
  title        = {Optical Recognition of Handwritten Digits},
  author       = {Alpaydin, E. and Kaynak, C.},
  year         = {1998},
  howpublished = {UCI Machine Learning Repository},
  doi          = {10.24432/C50P49}
}"""
"""The 8×8 digits (scikit-learn's ``load_digits``) the density track's VAE learns."""

KHOSLA_2011 = """@inproceedings{khosla2011dogs,
  title     = {Novel Dataset for Fine-Grained Image Categorization: {S}tanford Dogs},
  author    = {Khosla, Aditya and Jayadevaprakash, Nityananda and Yao, Bangpeng and Fei-Fei, Li},
  booktitle = {First Workshop on Fine-Grained Visual Categorization (FGVC), IEEE Conference on Computer Vision and Pattern Recognition (CVPR)},
  year      = {2011}
}"""
"""Stanford Dogs, a breed-per-folder layout the image track's ``dogs-folder`` source reads."""

UDACITY_PET_IMAGES = """@misc{udacity_pet_images,
  title        = {Dog-breed sample images ({pet\\_images}) of the project ``Use a Pre-trained Image Classifier to Identify Dog Breeds''},
  author       = {{Udacity}},
  howpublished = {AI Programming with Python course material, copied from https://github.com/RSN601KRI/ClassifiertoIdentifyDogbreeds at commit 3012ab7dcb9d65d5ed9419b5cff19f20b4d7a402},
  note         = {Research and testing use only}
}"""
"""The small dog-photo set the ``dogs-folder`` source reads by default (course material, research use only)."""


def bibliography(*entries: str) -> str:
    """Several BibTeX entries as one string, for a track's ``citation``."""
    return "\n\n".join(entry.strip() for entry in entries)


HARNESS_CFF: dict[str, Any] = {
    "cff-version": "1.2.0",
    "message": (
        "If you use collapsebench, please cite it as below, and cite the protocol, models and data sets "
        "of the tracks you ran (`collapsebench cite --track <track>` prints them as BibTeX)."
    ),
    "type": "software",
    "title": "collapsebench: a benchmark harness for model collapse under recursive training",
    "authors": [{"name": "The collapsebench contributors"}],
    "version": __version__,
    "license": "MIT",
    "abstract": (
        "collapsebench runs the recursive-training loop (models trained generation after generation on "
        "their predecessors' samples), seeded, resumable and with full provenance, compares mitigations "
        "(retaining real data, accumulating, fresh data, filtering), aggregates seeds with 95% confidence "
        "intervals and renders leaderboards. Tracks, models, mitigations and metrics are plugins."
    ),
    "keywords": ["model collapse", "recursive training", "synthetic data", "benchmark", "generative models"],
    "references": [
        {
            "type": "article",
            "title": "AI models collapse when trained on recursively generated data",
            "authors": [
                {"family-names": "Shumailov", "given-names": "Ilia"},
                {"family-names": "Shumaylov", "given-names": "Zakhar"},
                {"family-names": "Zhao", "given-names": "Yiren"},
                {"family-names": "Papernot", "given-names": "Nicolas"},
                {"family-names": "Anderson", "given-names": "Ross"},
                {"family-names": "Gal", "given-names": "Yarin"},
            ],
            "journal": "Nature",
            "volume": 631,
            "issue": 8022,
            "start": 755,
            "end": 759,
            "year": 2024,
            "doi": "10.1038/s41586-024-07566-y",
        }
    ],
}
"""collapsebench's own citation metadata (Citation File Format 1.2.0): the source of ``CITATION.cff``."""


def harness_cff() -> str:
    """``CITATION.cff`` as text, keys in the order above."""
    return "# Rendered by `collapsebench cite --format cff`; edit collapsebench/publish/citations.py instead.\n" + yaml.safe_dump(
        HARNESS_CFF, sort_keys=False, allow_unicode=True, width=100
    )


def harness_bibtex() -> str:
    """collapsebench's own citation as a BibTeX entry, from ``HARNESS_CFF``."""
    authors = " and ".join(_bibtex_name(a) for a in HARNESS_CFF["authors"])
    return (
        "@misc{collapsebench,\n"
        f"  title   = {{{HARNESS_CFF['title']}}},\n"
        f"  author  = {{{authors}}},\n"
        f"  note    = {{Software, version {HARNESS_CFF['version']}, license {HARNESS_CFF['license']}}}\n"
        "}"
    )


def _bibtex_name(author: dict[str, str]) -> str:
    if "name" in author:  # an entity: braces keep BibTeX from splitting it into first and last names
        return "{" + author["name"] + "}"
    return f"{author['family-names']}, {author['given-names']}"


def track_bibtex(track: str) -> str:
    """The track's own entries, then collapsebench's; an UnknownNameError (with suggestions) for a bad name."""
    from collapsebench.plugin.registry import registries

    cited = registries().tracks.get(track).citation
    return bibliography(*([cited] if cited.strip() else []), harness_bibtex())
