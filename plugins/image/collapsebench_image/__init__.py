"""collapsebench image track: a small DDPM on dog breeds, and whether the rare breeds disappear."""
