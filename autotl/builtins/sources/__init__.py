"""Built-in source models, a family per module."""
