"""Seeded stratified splits for data that does not come with its own."""

from collections import Counter

from sklearn.model_selection import train_test_split

from autotl.contracts.data import SPLITS, Example, IntakeOptions
from autotl.errors import AutotlError

Splits = dict[str, list[Example]]


def complete_splits(given: Splits, splits_given: bool, options: IntakeOptions) -> tuple[Splits, dict[str, str]]:
    """Carves the missing val and test splits out of train, stratified by class.

    Fractions are of the examples given as train, so an unsplit dataset ends up
    about 60/20/20 with the defaults. Returns the splits and where each came
    from: "given", or the seeded split that made it.
    """
    splits = {name: list(given.get(name, [])) for name in SPLITS}
    missing = [name for name in ("test", "val") if name not in given]
    carved = f"stratified split, seed {options.seed}"
    origin = {name: "given" if name in given and splits_given else carved for name in SPLITS}
    _check_enough_per_class(splits["train"], missing)
    fractions = {"test": options.test_fraction, "val": options.val_fraction}
    left = 1.0
    for name in missing:
        splits["train"], splits[name] = _stratified(splits["train"], fractions[name] / left, options.seed)
        left -= fractions[name]
    return splits, origin


def _check_enough_per_class(train: list[Example], missing: list[str]) -> None:
    if not missing:
        return
    needed = len(missing) + 1
    for label, count in sorted(Counter(e.label for e in train).items()):
        if count < needed:
            parts = ", ".join(["train", *reversed(missing)])
            raise AutotlError(
                f"class {label!r} has {count} example{'s' * (count != 1)}: too few to split into {parts} "
                f"(each class needs at least {needed}); add examples of {label!r}, "
                "or give the splits yourself (train/val/test folders or files)"
            )


def _stratified(examples: list[Example], share: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Splits each class on its own: scikit-learn's ``stratify`` rounds small
    classes down to nothing, and every split must hold every class."""
    kept: list[Example] = []
    carved: list[Example] = []
    for label in sorted({e.label for e in examples}):
        members = [e for e in examples if e.label == label]
        n_out = max(1, round(share * len(members)))
        stay, out = train_test_split(members, test_size=n_out, random_state=seed)
        kept += stay
        carved += out
    return kept, carved
