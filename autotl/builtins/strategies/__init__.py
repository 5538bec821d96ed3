"""Built-in transfer strategies, one per module."""
