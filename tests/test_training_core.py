"""The training core: metrics as scikit-learn computes them,
and an import with torch alone (what a bare GPU machine has)."""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from autotl.training.metrics import score


@pytest.mark.parametrize("seed", range(5))
def test_metrics_match_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    labels, predictions = rng.integers(0, 6, 40), rng.integers(0, 6, 40)
    predictions[:5] = 5  # a class predicted but never present in some draws
    assert score("accuracy", labels, predictions, 7) == pytest.approx(accuracy_score(labels, predictions))
    expected = f1_score(labels, predictions, average="macro", labels=list(range(7)), zero_division=0)
    assert score("f1_macro", labels, predictions, 7) == pytest.approx(expected)


def test_the_core_trains_with_torch_alone(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys
        for absent in ("sklearn", "mlflow", "optuna", "typer", "rich", "pandas", "transformers"):
            sys.modules[absent] = None  # importing it now fails, as where it is not installed
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import torch
        from fakes import FakeSource
        from autotl.training.loop import fit
        from autotl.contracts.settings import TrainParams
        from autotl.training.classifier import Classifier
        from autotl.training.batches import feature_batches
        from autotl.builtins.strategies.finetune import Finetune
        classifier = Classifier(FakeSource("tiny").load(pretrained=False), 2)
        features = torch.randn(16, 4).numpy()
        labels = [int(v > 0) for v in features[:, 0]]
        batches = feature_batches(features, labels, 4)
        result = fit(classifier.head, batches, batches, TrainParams(epochs=2), torch.device("cpu"), "f1_macro", 2)
        print("best epoch", result.best_epoch)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "best epoch" in result.stdout


def test_among_epochs_tied_on_the_validation_score_the_lowest_validation_loss_is_kept():
    import torch

    from autotl.contracts.settings import TrainParams
    from autotl.training.batches import feature_batches
    from autotl.training.loop import fit

    torch.manual_seed(0)
    features = torch.randn(32, 4).numpy()
    features[:, 0] *= 10  # separable from the first epoch on: the accuracy plateaus while the loss still falls
    labels = [int(v > 0) for v in features[:, 0]]
    batches = feature_batches(features, labels, 8)
    result = fit(
        torch.nn.Linear(4, 2), batches, batches, TrainParams(epochs=6, lr=0.05), torch.device("cpu"), "accuracy", 2
    )
    tied = [e for e in result.history if e.val_metric == max(h.val_metric for h in result.history)]
    assert len(tied) > 1 and tied[0].epoch < result.best_epoch  # not the first epoch to reach the plateau
    assert result.best_epoch == min(tied, key=lambda e: e.val_loss).epoch


def test_on_the_cpu_predictions_go_through_in_small_batches_whatever_the_training_batch():
    """A batch of 64 images costs up to 2.5 times more per image on the CPU than one of 8 (its
    activations leave the caches); a GPU keeps the batch it was given."""
    import torch

    from autotl.training.classifier import predict_proba
    from autotl.training.device import CPU_INFERENCE_BATCH, inference_batch_size

    seen = []

    class Recorder(torch.nn.Module):
        def forward(self, batch):
            seen.append(len(batch))
            return torch.zeros(len(batch), 2)

    probabilities = predict_proba(Recorder(), ["x"] * 20, lambda inputs: torch.zeros(len(inputs), 3), "cpu", 64)
    assert probabilities.shape == (20, 2)
    assert seen == [8, 8, 4] and CPU_INFERENCE_BATCH == 8
    assert inference_batch_size(torch.device("cuda"), 64) == 64


def test_a_job_decodes_its_images_once_for_all_epochs_into_the_same_batches(image_folder, monkeypatch):
    """Decoding every epoch again was most of a small model's epoch on the CPU. Decoded once, the
    batches hold the same numbers in the same shuffled order as preprocessing each batch did."""
    import torch

    from autotl.training import batches
    from autotl.training.backbone import ImagePreprocessor

    root = image_folder({"a": 6, "b": 5}, size=(20, 14))
    paths = sorted(str(p) for p in root.rglob("*.png"))
    labels = [int("/b/" in p) for p in paths]
    preprocess = ImagePreprocessor(16, (0.5, 0.4, 0.3), (0.2, 0.25, 0.3))
    decoded = []
    preprocess.decode = lambda inputs, decode=preprocess.decode: decoded.append(len(inputs)) or decode(inputs)
    once = batches.raw_batches(paths, labels, preprocess, 4, torch.device("cpu"), shuffle=True, seed=3)
    epochs = [list(once) for _ in range(3)]
    assert decoded == [len(paths)]
    assert [len(labels) for _, labels in epochs[0]] == [4, 4, 3]

    monkeypatch.setattr(batches, "DECODED_LIMIT", 0)  # past the limit: preprocessed batch by batch, as before
    every_epoch = list(batches.raw_batches(paths, labels, preprocess, 4, torch.device("cpu"), shuffle=True, seed=3))
    for (pixels, labels_once), (inputs, labels_each) in zip(epochs[0], every_epoch):
        assert torch.equal(labels_once, labels_each)
        assert torch.allclose(pixels, inputs, atol=1e-6)
    assert len(decoded) > 1


def test_freed_memory_is_kept_for_reuse_on_glibc_unless_asked_not_to(monkeypatch):
    """Each training step's activations were fresh page mappings (a quarter of the CPU time in the
    kernel); AUTOTL_MALLOC=system leaves glibc's defaults alone."""
    import platform

    from autotl.training.device import keep_freed_memory

    monkeypatch.setenv("AUTOTL_MALLOC", "system")
    assert keep_freed_memory() is False
    monkeypatch.delenv("AUTOTL_MALLOC")
    assert keep_freed_memory() is (platform.system() == "Linux" and platform.libc_ver()[0] == "glibc")
