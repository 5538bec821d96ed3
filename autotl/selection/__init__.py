"""``autotl select``: score the sources without training, search what survives within the budget,
refit the best (or keep its trial's model when a refit no longer fits), and train the no-transfer
baselines (``scratch``) beside it."""
