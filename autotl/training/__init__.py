"""The training core: feature cache, training loop, classifier bundles.

Needs torch (and torchvision for images) but neither MLflow nor Optuna, so it
runs on a bare GPU machine.
"""
