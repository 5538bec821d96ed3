"""Seeded stratified splits: reproducible, stratified, and never touching a given test split."""

from collections import Counter

from autotl.contracts.data import Example, IntakeOptions
from autotl.data.splits import complete_splits


def examples(counts: dict[str, int], prefix: str = "") -> list[Example]:
    return [
        Example(f"{prefix}{label}{i}", label, f"{prefix}{label}{i}") for label, n in counts.items() for i in range(n)
    ]


def test_unsplit_data_is_split_60_20_20_by_class():
    splits, origin = complete_splits({"train": examples({"a": 50, "b": 100})}, False, IntakeOptions(seed=3))
    assert {s: len(e) for s, e in splits.items()} == {"train": 90, "val": 30, "test": 30}
    assert Counter(e.label for e in splits["test"]) == {"a": 10, "b": 20}
    assert set(origin.values()) == {"stratified split, seed 3"}


def test_same_seed_same_split_other_seed_other_split():
    data = {"train": examples({"a": 20, "b": 20})}
    first, _ = complete_splits(data, False, IntakeOptions(seed=1))
    again, _ = complete_splits(data, False, IntakeOptions(seed=1))
    other, _ = complete_splits(data, False, IntakeOptions(seed=2))
    assert first == again
    assert first["test"] != other["test"]


def test_given_test_split_is_left_alone():
    test = examples({"a": 3, "b": 3}, prefix="test-")
    splits, origin = complete_splits({"train": examples({"a": 10, "b": 10}), "test": test}, True, IntakeOptions())
    assert splits["test"] == test
    assert origin["test"] == "given" and origin["val"].startswith("stratified")
    assert len(splits["train"]) + len(splits["val"]) == 20


def test_every_class_reaches_every_split_at_the_minimum():
    splits, _ = complete_splits({"train": examples({"a": 3, "b": 3, "c": 30})}, False, IntakeOptions())
    for split in splits.values():
        assert set(e.label for e in split) == {"a", "b", "c"}
