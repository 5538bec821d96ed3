"""Built-in data format ``image-folder``: a folder of images, one sub-folder per class.

``ROOT/<class>/<image>`` or ``ROOT/{train,val,test}/<class>/<image>``. Every
image is decoded once while reading, so corrupt files surface here rather than
in the middle of training.
"""

from collections import Counter
from pathlib import Path

import autotl
from autotl.contracts.data import SPLITS, DataFormat, Example, IntakeOptions, LoadedData
from autotl.data import within
from autotl.data.checks import reject_or_skip, spread
from autotl.data.image_files import inspect_image, max_pixels
from autotl.errors import AutotlError, listing


class ImageFolder(DataFormat):
    name = "image-folder"
    modality = "image"
    layout = (
        "a folder of images, one sub-folder per class: ROOT/<class>/<image> or ROOT/{train,val,test}/<class>/<image>"
    )

    def matches(self, path: Path) -> bool:
        return path.is_dir() and not any(
            (path / f"{split}{suffix}").is_file() for split in SPLITS for suffix in (".csv", ".tsv", ".jsonl")
        )

    def read(self, path: Path, options: IntakeOptions) -> LoadedData:
        if not any(_visible(path.iterdir())):
            raise AutotlError(f"{path} is empty: put each class's images in {path}/<class>/")
        split_dirs = {split: path / split for split in SPLITS if (path / split).is_dir()}
        problems: list[str] = []
        roots = split_dirs or {"train": path}
        if split_dirs:
            others = [p.name for p in _visible(path.iterdir()) if p.name not in split_dirs]
            if others:
                problems.append(
                    f"ignored {listing(others)} in {path}: with split folders, only train/val/test are read"
                )
            if "train" not in split_dirs:
                raise AutotlError(f"{path} has {'/'.join(split_dirs)}/ but no train/ folder: add {path}/train/<class>/")
        if not split_dirs and not options.labels_required and not any(p.is_dir() for p in _visible(path.iterdir())):
            files = {"train": [(None, p) for p in _visible(path.iterdir())]}
        else:
            files = {split: _class_files(root, path, problems) for split, root in roots.items()}
        limit = max_pixels()
        bad: list[str] = []
        infos: list[tuple[int, int, str]] = []
        splits: dict[str, list[Example]] = {}
        for split, labelled in files.items():
            splits[split] = []
            for label, file in labelled:
                info, error = inspect_image(file, limit)
                if error:
                    bad.append(f"{file} ({error})")
                    continue
                infos.append(info[:3])
                splits[split].append(Example(input=str(file), label=label, fingerprint=info[3]))
        reject_or_skip(bad, "file(s) cannot be read as images", options, problems)
        if not infos:
            raise AutotlError(f"no readable images under {path}: expected {self.layout}")
        return LoadedData(splits, bool(split_dirs), _summary(infos), problems)


def _visible(paths) -> list[Path]:
    return sorted(p for p in paths if not p.name.startswith("."))


def _class_files(root: Path, data: Path, problems: list[str]) -> list[tuple[str, Path]]:
    """(class, file) for every file below each class folder; loose files are noted and ignored, and
    so are links that lead out of the ``data`` folder, or back to a folder above a class."""
    entries = _visible(root.iterdir())
    loose = [p.name for p in entries if p.is_file()]
    class_dirs = [p for p in entries if p.is_dir()]
    if not class_dirs:
        raise AutotlError(
            f"{root} has no class folders: put each class's images in {root}/<class>/ (the folder name is the label)"
        )
    if loose:
        problems.append(f"ignored {listing(loose)} in {root}: files outside class folders have no label")
    found, outside, looped = [], [], []
    for class_dir in class_dirs:
        if within(root, class_dir):  # a link back to its own root or above
            looped.append(class_dir.name)
            continue
        files = [p for p in sorted(class_dir.rglob("*")) if p.is_file() and not _hidden(p, class_dir)]
        outside += [str(p) for p in files if not within(p, data)]
        files = [p for p in files if within(p, data)]
        if not files:
            problems.append(f"class folder {class_dir} is empty")
        found.extend((class_dir.name, file) for file in files)
    if looped:
        problems.append(
            f"ignored class folder(s) {listing([repr(name) for name in looped])} in {root}: each is a link back to a "
            "folder above it"
        )
    if outside:
        problems.append(f"ignored {len(outside)} file(s) linked from outside {data}: {listing(outside)}")
    return found


def _hidden(path: Path, base: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(base).parts)


def _summary(infos: list[tuple[int, int, str]]) -> dict:
    widths = [w for w, _, _ in infos]
    heights = [h for _, h, _ in infos]
    return {
        "width": spread(widths),
        "height": spread(heights),
        "modes": dict(Counter(mode for _, _, mode in infos).most_common()),
    }


@autotl.hookimpl
def register_data_formats(register):
    register(ImageFolder())
