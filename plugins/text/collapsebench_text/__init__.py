"""collapsebench text track: OPT language models fine-tuned recursively on wikitext2."""
