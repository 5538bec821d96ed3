"""The ``setfit`` strategy: a text encoder tuned on pairs of labelled texts (same class pulled
together, two classes pushed apart), then a logistic head on its embeddings."""

import random
from collections import Counter

import numpy as np
import torch
from test_train_predict import tiny_bert

import autotl
from autotl.builtins.sources.huggingface import user_encoder
from autotl.logged_model import load
from autotl.training.contrastive import draw_pairs

POSITIVE, NEGATIVE = "good great nice fine".split(), "bad awful poor terrible".split()


def test_each_text_meets_one_of_its_class_and_one_of_another_every_epoch():
    labels = [0, 0, 0, 1, 1, 2]  # class 2 has one text
    pairs = draw_pairs(labels, random.Random(0))
    assert Counter(first for first, _, _ in pairs) == {i: 2 for i in range(6)}
    for first, second, same in pairs:
        assert (labels[first] == labels[second]) == (same == 1.0)
        assert first != second or labels.count(labels[first]) == 1  # a lone text pairs with itself
    assert draw_pairs(labels, random.Random(1)) != pairs  # drawn afresh
    assert {same for _, _, same in draw_pairs([0, 0, 0], random.Random(0))} == {1.0}  # one class: no negatives


def separation(backbone, texts: list[str], labels: list[int]) -> float:
    """Mean cosine similarity of texts of one class minus that of texts of two classes."""
    with torch.no_grad():
        vectors = torch.nn.functional.normalize(backbone.eval()(backbone.preprocessor(texts)), dim=1)
    cosine, same = (vectors @ vectors.T).numpy(), np.equal.outer(labels, labels)
    off_diagonal = ~np.eye(len(texts), dtype=bool)
    return float(cosine[same & off_diagonal].mean() - cosine[~same].mean())


def test_setfit_pulls_each_class_together_and_its_model_predicts(tiny, text_file, tmp_path, monkeypatch):
    folder = tiny_bert(tmp_path / "tiny-bert")
    monkeypatch.setenv("AUTOTL_HF_MODELS", str(folder))
    rng = random.Random(0)
    rows = [
        (f"{rng.choice(words)} {rng.choice(words)}", label)
        for _ in range(10)
        for label, words in (("pos", POSITIVE), ("neg", NEGATIVE))
    ]
    result = autotl.train(
        text_file([["text", "label"], *rows]),
        "tiny-bert",
        "setfit",
        settings={"epochs": "10", "lr": "3e-3", "batch_size": "8"},
        progress=lambda message: None,
    )
    assert result.best_epoch == 10  # the last, as SetFit keeps it
    texts, labels = [text for text, _ in rows], [int(label == "pos") for _, label in rows]
    before = separation(user_encoder(str(folder)).load(), texts, labels)
    after = separation(load(result.model_uri).classifier.backbone, texts, labels)
    assert after > before + 0.3  # same-class cosine well above two-class cosine, which it was not before


def test_setfit_needs_a_text_encoder(cli, tiny, colour_images):
    result = cli("train", "--data", colour_images, "--model", "tiny", "--strategy", "setfit")
    assert result.exit_code == 2
    assert "setfit needs a text encoder (one vector per text), which tiny does not offer" in result.stderr
