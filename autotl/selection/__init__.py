"""``autotl select``: score the sources without training, search what survives within the budget,
refit the best, and train the ``scratch`` baseline beside it."""
