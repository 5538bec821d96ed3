"""Built-in data formats: readers of target data."""
