"""Built-in data format ``image-folder``: a folder of images, one sub-folder per class.

``ROOT/<class>/<image>`` or ``ROOT/{train,val,test}/<class>/<image>``; for prediction also a flat
folder of images. Every image is decoded once while reading, so corrupt files surface here rather
than in the middle of training. Nothing that a link leads out of ROOT is read.
"""

from pathlib import Path

import autotl
from autotl.contracts.data import SPLITS, DataFormat, Example, IntakeOptions, LoadedData
from autotl.data import refuse_link_out, shown, within, without_links_out
from autotl.data.checks import reject_or_skip
from autotl.data.image_files import EXTENSIONS, image_summary, inspect_image, max_pixels
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
        entries = _visible(path.iterdir())
        if not entries:
            raise AutotlError(f"{path} is empty: put each class's images in {path}/<class>/")
        split_dirs = {split: path / split for split in SPLITS if (path / split).is_dir()}
        problems: list[str] = []
        if split_dirs:
            for split_dir in split_dirs.values():
                refuse_link_out(split_dir, path)
            others = [shown(p.name) for p in entries if p.name not in split_dirs]
            if others:
                problems.append(
                    f"ignored {listing(others)} in {path}: with split folders, only train/val/test are read"
                )
            if "train" not in split_dirs:
                raise AutotlError(f"{path} has {'/'.join(split_dirs)}/ but no train/ folder: add {path}/train/<class>/")
            files = {split: _class_files(root, path, problems) for split, root in split_dirs.items()}
        elif not options.labels_required and _flat(entries, path, problems):
            files = {"train": [(None, p) for p in _readable(entries, path, problems)]}
        else:
            files = {"train": _class_files(path, path, problems)}
        limit = max_pixels()
        bad: list[str] = []
        infos: list[tuple[int, int, str]] = []
        splits: dict[str, list[Example]] = {}
        for split, labelled in files.items():
            splits[split] = []
            for label, file in labelled:
                info, error = inspect_image(file, limit) if file.exists() else (None, "a link to nothing")
                if error:
                    bad.append(f"{shown(file)} ({error})")
                    continue
                infos.append(info[:3])
                splits[split].append(Example(input=str(file), label=label, fingerprint=info[3]))
        reject_or_skip(bad, "file(s) cannot be read as images", options, problems)
        if not infos:
            left_out = f" ({'; '.join(problems)})" if problems else ""
            raise AutotlError(f"no readable images under {path}: expected {self.layout}{left_out}")
        return LoadedData(splits, bool(split_dirs), image_summary(infos), problems)


def _visible(paths) -> list[Path]:
    return sorted(p for p in paths if not p.name.startswith("."))


def _loose_images(entries: list[Path]) -> list[str]:
    return [shown(p.name) for p in entries if p.is_file() and p.suffix.lower() in EXTENSIONS]


def _flat(entries: list[Path], root: Path, problems: list[str]) -> bool:
    """Whether unlabelled data is a flat folder of images: one without sub-folders, or with loose
    images beside a single sub-folder, which one class cannot explain and a folder of photos often
    holds (thumbnails/); that sub-folder is left out, and said so."""
    folders = [p for p in entries if p.is_dir()]
    if not folders:
        return True
    if len(folders) > 1 or not _loose_images(entries):
        return False
    problems.append(
        f"read {root} as a flat folder of images and left out its one sub-folder, {shown(folders[0].name)}/ "
        "(labelled images need one sub-folder per class)"
    )
    return True


def _readable(paths: list[Path], data: Path, problems: list[str]) -> list[Path]:
    """The files of ``paths`` to read, links out of ``data`` left out: regular files, and links to
    nothing, which reading reports as bad files."""
    return [p for p in without_links_out(paths, data, problems) if p.is_file() or not p.exists()]


def _class_files(root: Path, data: Path, problems: list[str]) -> list[tuple[str, Path]]:
    """(class, file) for every file below each class folder; loose files are noted and ignored, and
    so are links to files outside the ``data`` folder, and links back to a folder above a class. A
    class folder that links out of ``data`` stops the read."""
    entries = _visible(root.iterdir())
    class_dirs = [p for p in entries if p.is_dir()]
    if not class_dirs:
        raise AutotlError(
            f"{root} has no class folders: put each class's images in {root}/<class>/ (the folder name is the label)"
        )
    _check_loose_files(entries, class_dirs, root, problems)
    looped = [p for p in class_dirs if within(root, p)]  # a link back to its own root or above
    if looped:
        problems.append(
            f"ignored class folder(s) {listing([repr(p.name) for p in looped])} in {root}: each is a link back to a "
            "folder above it"
        )
    labelled: list[tuple[str, Path]] = []
    for class_dir in (p for p in class_dirs if p not in looped):
        refuse_link_out(class_dir, data)
        labelled += [(class_dir.name, p) for p in sorted(class_dir.rglob("*")) if not _hidden(p, class_dir)]
    readable = set(_readable([file for _, file in labelled], data, problems))
    found = [(label, file) for label, file in labelled if file in readable]
    present = {label for label, _ in found}
    problems += [f"class folder {shown(p)} is empty" for p in class_dirs if p not in looped and p.name not in present]
    return found


def _check_loose_files(entries: list[Path], class_dirs: list[Path], root: Path, problems: list[str]) -> None:
    """Files beside class folders have no label: noted, or, beside a single sub-folder, an error, as
    that is no set of classes but most likely a folder of images meant otherwise."""
    images = _loose_images(entries)
    if len(class_dirs) == 1 and images:
        raise AutotlError(
            f"{root} holds {len(images)} loose image(s) ({listing(images)}) beside one sub-folder, "
            f"{shown(class_dirs[0].name)}/: put each class's images in {root}/<class>/ (the folder name is the label)"
        )
    loose = [shown(p.name) for p in entries if p.is_file()]
    if loose:
        problems.append(
            f"ignored {len(loose)} file(s) outside class folders in {root} (they have no label): {listing(loose)}"
        )


def _hidden(path: Path, base: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(base).parts)


@autotl.hookimpl
def register_data_formats(register):
    register(ImageFolder())
