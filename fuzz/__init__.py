"""flamefold's own fuzz campaign: seeded mutation and grammar fuzzing of the collapse, folded,
graph and diff paths (see fuzz/README.md). Run with ``python -m fuzz.campaign``."""
