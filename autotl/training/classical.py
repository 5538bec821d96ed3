"""The no-transfer baseline: multinomial logistic regression, its L2 strength chosen by inner
cross-validation (:mod:`autotl.training.convex`), on downscaled raw pixels for images and on a
TF-IDF representation for texts. What transfer buys is measured against it.

It is saved as JSON and numpy arrays (weights, idf vectors, vocabularies), never as a pickle,
and loads with ``np.load(allow_pickle=False)``: a logged baseline runs no code from its files.
"""

import json
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from autotl.errors import AutotlError
from autotl.training import manifests
from autotl.training.convex import LinearFit, fit_logistic
from autotl.training.manifests import DAMAGED, MANIFEST

RAW_SIDE = 32
"""Images are shrunk to at most 32 x 32 pixels (never enlarged): at that size people still
recognise most scenes and objects (Torralba et al. 2008, '80 million tiny images')."""
TEXT_FAMILIES = {
    "word 1-2-grams": ({"analyzer": "word", "ngram_range": (1, 2)},),
    "character 2-5-grams": ({"analyzer": "char_wb", "ngram_range": (2, 5)},),
    "word 1-2-grams + character 2-5-grams": (
        {"analyzer": "word", "ngram_range": (1, 2)},
        {"analyzer": "char_wb", "ngram_range": (2, 5)},
    ),
}
"""TF-IDF is a family: word n-grams suit long texts with topical words, character n-grams short,
noisy or morphologically rich ones (Cavnar and Trenkle 1994; Joulin et al. 2017 for n-gram
features as strong text baselines). Each is tried, with sublinear term frequency (Manning et al.,
Introduction to Information Retrieval, 6.4.1), and the inner cross-validation's log-loss picks one."""
TFIDF_OPTIONS = {"sublinear_tf": True, "lowercase": True, "strip_accents": "unicode", "dtype": np.float64}
ARRAYS = "classical.npz"


class Representation(Protocol):
    description: str

    def transform(self, inputs: list[str]): ...

    def config(self) -> dict: ...

    def arrays(self) -> dict[str, np.ndarray]: ...


@dataclass
class RawPixels:
    side: int

    @property
    def description(self) -> str:
        return f"{self.side}x{self.side} raw pixels"

    def transform(self, inputs: list[str]) -> np.ndarray:
        return np.stack([_pixels(path, self.side) for path in inputs])

    def config(self) -> dict:
        return {"kind": "raw_pixels", "side": self.side}

    def arrays(self) -> dict[str, np.ndarray]:
        return {}


@dataclass
class Tfidf:
    family: str
    vectorizers: list
    """Fitted scikit-learn ``TfidfVectorizer``s, one per part of the family; their outputs side by side."""

    @property
    def description(self) -> str:
        return f"TF-IDF of {self.family}"

    def transform(self, inputs: list[str]):
        from scipy import sparse

        return sparse.hstack([vectorizer.transform(inputs) for vectorizer in self.vectorizers]).tocsr()

    def config(self) -> dict:
        parts = [
            {**part, "vocabulary": {term: int(index) for term, index in vectorizer.vocabulary_.items()}}
            for part, vectorizer in zip(TEXT_FAMILIES[self.family], self.vectorizers)
        ]
        return {"kind": "tfidf", "family": self.family, "parts": parts}

    def arrays(self) -> dict[str, np.ndarray]:
        return {f"idf_{i}": vectorizer.idf_ for i, vectorizer in enumerate(self.vectorizers)}


@lru_cache(maxsize=20_000)
def _pixels(path: str, side: int) -> np.ndarray:
    """An image shrunk by box averaging, in [0, 1]; kept, since every fold reads the same images."""
    from PIL import Image

    from autotl.data.image_files import open_rgb

    return np.asarray(open_rgb(path).resize((side, side), Image.BOX), dtype=np.float32).ravel() / 255.0


def _vectorizer(part: dict, vocabulary: dict | None = None, max_features: int | None = None):
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        analyzer=part["analyzer"],
        ngram_range=tuple(part["ngram_range"]),
        vocabulary=vocabulary,
        max_features=max_features,
        **TFIDF_OPTIONS,
    )


@dataclass
class ClassicalModel:
    representation: Representation
    linear: LinearFit
    classes: tuple[str, ...]

    @property
    def description(self) -> str:
        return f"logistic regression on {self.representation.description} (C {self.linear.c:g})"

    def probabilities(self, inputs: list[str]) -> np.ndarray:
        return self.linear.probabilities(self.representation.transform(inputs))

    def save(self, folder: Path) -> Path:
        from autotl import __version__

        folder.mkdir(parents=True, exist_ok=True)
        manifest = {
            "kind": "classical",
            "classes": list(self.classes),
            "representation": self.representation.config(),
            "c": self.linear.c,
            "description": self.description,
            "autotl_version": __version__,
        }
        (folder / MANIFEST).write_text(json.dumps(manifest))
        np.savez(folder / ARRAYS, weight=self.linear.weight, bias=self.linear.bias, **self.representation.arrays())
        return folder


def load(folder: Path) -> ClassicalModel:
    """The saved baseline, each manifest field and array checked against the others."""
    manifest = manifests.read(folder)
    classes = manifests.classes(manifest, folder)
    c = manifests.positive(manifest, "c", folder)
    try:
        with np.load(folder / ARRAYS, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise AutotlError(f"{folder / ARRAYS}: not the arrays autotl saved ({error}); {DAMAGED}") from None
    representation = _representation(manifest, arrays, folder)
    linear = LinearFit(arrays.get("weight"), arrays.get("bias"), c)
    width = _width(representation)
    if not (
        isinstance(linear.weight, np.ndarray)
        and isinstance(linear.bias, np.ndarray)
        and linear.weight.shape == (len(classes), width)
        and linear.bias.shape == (len(classes),)
    ):
        raise AutotlError(
            f"{folder / ARRAYS}: its weight and bias do not fit {len(classes)} classes ('classes' in {MANIFEST}) of "
            f"{width} features ({representation.description}); {DAMAGED}"
        )
    return ClassicalModel(representation, linear, classes)


def _representation(manifest: dict, arrays: dict[str, np.ndarray], folder: Path) -> Representation:
    config = manifest.get("representation")
    if not isinstance(config, dict) or config.get("kind") not in ("raw_pixels", "tfidf"):
        raise manifests.refuse(manifest, "representation", folder, "a raw_pixels or tfidf representation")
    if config["kind"] == "raw_pixels":
        return RawPixels(manifests.whole(config, "side", folder, minimum=1))
    parts = config.get("parts")
    family = config.get("family")
    if (
        not isinstance(family, str)
        or family not in TEXT_FAMILIES
        or not isinstance(parts, list)
        or len(parts) != len(TEXT_FAMILIES[family])
    ):
        raise manifests.refuse(manifest, "representation", folder, f"one of the TF-IDF families {list(TEXT_FAMILIES)}")
    vectorizers = []
    for i, (definition, part) in enumerate(zip(TEXT_FAMILIES[family], parts)):
        idf = arrays.get(f"idf_{i}")
        vocabulary = part.get("vocabulary") if isinstance(part, dict) else None
        if not (
            isinstance(vocabulary, dict)
            and all(isinstance(index, int) for index in vocabulary.values())
            and sorted(vocabulary.values()) == list(range(len(vocabulary)))
            and idf is not None
            and idf.shape == (len(vocabulary),)
        ):
            raise AutotlError(
                f"{folder / MANIFEST}: the vocabulary of TF-IDF part {i} does not match idf_{i} in {ARRAYS}; {DAMAGED}"
            )
        vectorizer = _vectorizer(definition, vocabulary)  # the family's n-grams, as ``Tfidf.config`` wrote them
        vectorizer.idf_ = idf
        vectorizers.append(vectorizer)
    return Tfidf(family, vectorizers)


def _width(representation: Representation) -> int:
    """How many features ``representation`` gives an input."""
    if isinstance(representation, RawPixels):
        return representation.side * representation.side * 3
    return sum(len(vectorizer.vocabulary) for vectorizer in representation.vectorizers)


def fit(
    modality: str,
    inputs: list[str],
    labels: list[int],
    classes: tuple[str, ...],
    seed: int = 0,
    image_side: int = RAW_SIDE,
    family: str | None = None,
    max_features: int | None = None,
) -> ClassicalModel:
    """The baseline on ``inputs`` (image paths or texts); ``image_side``: the data's median
    shorter side, which the pixels are not enlarged beyond; ``family``: the TF-IDF family to use
    (by default each is tried); ``max_features``: the most frequent n-grams each TF-IDF part keeps
    (by default all), for a cheaper fit."""
    labels = np.asarray(labels)
    if modality == "image":
        representation = RawPixels(max(1, min(RAW_SIDE, int(image_side))))
        return ClassicalModel(
            representation, fit_logistic(representation.transform(inputs), labels, len(classes), seed), classes
        )
    from scipy import sparse

    vectorized: dict[str, tuple] = {}  # each part once, though two families share it

    def part_of(part: dict) -> tuple:
        key = json.dumps(part, sort_keys=True)
        if key not in vectorized:
            vectorizer = _vectorizer(part, max_features=max_features)
            vectorized[key] = vectorizer, vectorizer.fit_transform(inputs)
        return vectorized[key]

    fits = []
    for name, parts in TEXT_FAMILIES.items():
        if family not in (None, name):
            continue
        vectorizers, matrices = zip(*map(part_of, parts))
        linear = fit_logistic(sparse.hstack(matrices).tocsr(), labels, len(classes), seed)
        fits.append(ClassicalModel(Tfidf(name, list(vectorizers)), linear, classes))
    known = [model for model in fits if model.linear.cv_log_loss is not None]
    return min(known, key=lambda model: model.linear.cv_log_loss) if known else fits[0]
