"""Routing rules: the YAML model, its loader and the compiled router."""
