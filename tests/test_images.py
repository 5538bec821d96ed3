"""Image folders: layouts, and every image mode turned into 8-bit RGB the same way."""

import json
from pathlib import Path

import numpy as np
from PIL import Image

from autotl.contracts.data import IntakeOptions
from autotl.data.image_files import open_rgb, to_rgb
from autotl.data.intake import read_examples
from autotl.plugins import build_registry


def test_transparency_is_composited_on_white():
    rgba = Image.new("RGBA", (2, 1), (255, 0, 0, 255))
    rgba.putpixel((1, 0), (0, 0, 0, 0))
    assert np.asarray(to_rgb(rgba)).tolist() == [[[255, 0, 0], [255, 255, 255]]]


def test_half_transparent_black_becomes_grey():
    la = Image.new("LA", (1, 1), (0, 128))
    assert 126 <= np.asarray(to_rgb(la))[0, 0, 0] <= 128


def test_palette_with_transparent_index_is_composited():
    image = Image.new("P", (2, 1))
    image.putpalette([0, 0, 255, 10, 20, 30] + [0] * 762)
    image.putpixel((1, 0), 1)
    image.info["transparency"] = 1
    assert np.asarray(to_rgb(image)).tolist() == [[[0, 0, 255], [255, 255, 255]]]


def test_greyscale_becomes_three_equal_channels():
    assert to_rgb(Image.new("L", (1, 1), 77)).getpixel((0, 0)) == (77, 77, 77)


def test_sixteen_bit_greyscale_is_scaled_not_clipped(tmp_path):
    pixels = np.array([[0, 257 * 100, 65535]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(pixels).save(path)
    assert np.asarray(open_rgb(path))[0, :, 0].tolist() == [0, 100, 255]


def test_exif_rotation_is_applied(tmp_path):
    image = Image.new("RGB", (4, 2), (0, 128, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif)
    assert open_rgb(path).size == (2, 4)


def test_given_splits_are_kept(cli, image_folder, tmp_path):
    root = tmp_path / "split"
    image_folder({"cat": 4, "dog": 4}, root=root / "train")
    image_folder({"cat": 1, "dog": 2}, root=root / "test")
    report = json.loads(cli("inspect", "--data", root, "--json").stdout)
    assert report["split_sizes"] == {"train": 6, "val": 2, "test": 3}
    assert report["split_origin"] == {"train": "given", "val": "stratified split, seed 0", "test": "given"}


def test_profile_counts_sizes_and_modes(cli, image_folder):
    root = image_folder({"cat": 5, "dog": 10}, size=(12, 10))
    Image.new("L", (30, 20)).save(root / "dog" / "grey.png")
    report = json.loads(cli("inspect", "--data", root, "--json").stdout)
    assert report["modality"] == "image"
    assert report["classes"] == ["cat", "dog"]
    assert {c: sum(n.values()) for c, n in report["counts"].items()} == {"cat": 5, "dog": 11}
    assert report["inputs"]["width"] == {"min": 12, "median": 12, "max": 30}
    assert report["inputs"]["modes"] == {"RGB": 15, "L": 1}
    assert report["imbalance"] == report["counts"]["dog"]["train"] / report["counts"]["cat"]["train"]


def test_loose_files_and_copies_across_splits_are_reported(cli, image_folder, tmp_path):
    root = tmp_path / "split"
    for split in ("train", "val", "test"):
        image_folder({"cat": 2, "dog": 2}, root=root / split)
    (root / "test" / "cat" / "0.png").write_bytes((root / "train" / "cat" / "0.png").read_bytes())
    (root / "README.txt").write_text("about this data")
    problems = json.loads(cli("inspect", "--data", root, "--json").stdout)["problems"]
    assert any("README.txt" in p for p in problems)
    assert "1 input(s) in test have the same content as inputs in train" in problems


def test_hidden_files_are_ignored(cli, image_folder):
    root = image_folder({"cat": 3, "dog": 3})
    (root / "cat" / ".DS_Store").write_bytes(b"\x00\x01")
    assert cli("inspect", "--data", root).exit_code == 0


def spy_on_opened(monkeypatch) -> list[Path]:
    """The files the image-folder reader opens."""
    from autotl.builtins.data_formats import image_folder as reader

    opened: list[Path] = []
    real = reader.inspect_image

    def recording(path, *args):
        opened.append(path)
        return real(path, *args)

    monkeypatch.setattr(reader, "inspect_image", recording)
    return opened


def test_a_flat_folder_reads_links_inside_it_and_opens_none_out_of_it(image_folder, tmp_path, monkeypatch):
    opened = spy_on_opened(monkeypatch)
    flat = image_folder({"flat": 2}) / "flat"
    (flat / "inside.png").symlink_to(flat / "0.png")
    (flat / "leak.png").symlink_to(image_folder({"secret": 1}, root=tmp_path / "private") / "secret" / "0.png")
    (flat / "passwd.png").symlink_to("/etc/passwd")
    options = IntakeOptions(skip_bad_files=True)
    modality, examples = read_examples(flat, options, build_registry().items("data_formats"))
    assert modality == "image"
    assert sorted(Path(e.input).name for e in examples) == ["0.png", "1.png", "inside.png"]
    assert sorted(p.name for p in opened) == ["0.png", "1.png", "inside.png"]


def test_class_folders_read_links_inside_the_data_and_open_none_out_of_it(cli, image_folder, monkeypatch):
    opened = spy_on_opened(monkeypatch)
    root = image_folder({"cat": 3, "dog": 3})
    (root / "dog" / "again.png").symlink_to(root / "dog" / "0.png")
    (root / "cat" / "passwd.png").symlink_to("/etc/passwd")
    report = json.loads(cli("inspect", "--data", root, "--json").stdout)
    assert report["num_examples"] == 7
    assert root / "dog" / "again.png" in opened and root / "cat" / "passwd.png" not in opened


def test_names_with_a_newline_or_a_formula_are_read_as_any_name(cli, image_folder):
    root = image_folder({"cat": 3, "dog": 3})
    (root / "cat" / "0.png").rename(root / "cat" / "new\nline.png")
    (root / "dog" / "0.png").rename(root / "dog" / "=cmd().png")
    report = json.loads(cli("inspect", "--data", root, "--json").stdout)
    assert report["num_examples"] == 6 and report["problems"] == []
