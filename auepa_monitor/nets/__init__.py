"""Torch models, one per file (shapes in the docstrings)."""
