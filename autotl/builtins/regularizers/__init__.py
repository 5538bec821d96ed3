"""Built-in fine-tuning regularizers, one per module."""
