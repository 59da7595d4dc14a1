"""ImageFolder on real PNG and JPEG files written with Pillow: torchvision's classes, order and
pixels; resizing as torchvision's Resize + CenterCrop; damaged, foreign and oversized files
named; and the trainer's --dataset folder."""
import os

import numpy as np
import pytest
from PIL import Image

from minigan.data import DataLoader, DatasetError, ImageFolder, load_image
from minigan.training import main

def write_image(path, array, **options):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **options)
    return path


@pytest.fixture
def folder(tmp_path):
    """root/cat: 3 PNGs (RGB, RGBA, grey in a sub-folder) and a text file; root/dog: a JPEG;
    root/README, a file beside the class folders."""
    rng = np.random.default_rng(0)
    root = tmp_path / "images"
    pixels = {
        "dog/b.JPG": rng.integers(0, 256, (6, 5, 3), dtype=np.uint8),
        "cat/z.png": rng.integers(0, 256, (4, 5, 3), dtype=np.uint8),
        "cat/sub/a.png": rng.integers(0, 256, (3, 2), dtype=np.uint8),  # greyscale
        "cat/m.png": rng.integers(0, 256, (2, 2, 4), dtype=np.uint8),  # with alpha
    }
    for name, array in pixels.items():
        write_image(root / name, array, **({"quality": 100} if name.endswith("JPG") else {}))
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "README").write_text("a file beside the class folders")
    return root, pixels


def test_classes_order_and_pixels_follow_torchvision(folder):
    root, pixels = folder
    dataset = ImageFolder(root)
    assert dataset.classes == ["cat", "dog"] and dataset.class_to_idx == {"cat": 0, "dog": 1}
    # torchvision's make_dataset: sorted(os.walk(class folder)), then sorted names: a folder's files
    # before its sub-folders' files
    assert [p.relative_to(root).as_posix() for p, _ in dataset.samples] == ["cat/m.png", "cat/z.png",
                                                                            "cat/sub/a.png", "dog/b.JPG"]
    assert dataset.targets == [0, 0, 0, 1] and len(dataset) == 4
    image, label = dataset[1]
    assert label == 0 and image.dtype == np.uint8 and image.shape == (3, 4, 5)
    np.testing.assert_array_equal(image, pixels["cat/z.png"].transpose(2, 0, 1))
    np.testing.assert_array_equal(dataset[0][0], pixels["cat/m.png"][..., :3].transpose(2, 0, 1))  # alpha dropped
    np.testing.assert_array_equal(dataset[2][0], np.stack([pixels["cat/sub/a.png"]] * 3))  # grey to RGB
    jpeg = np.asarray(Image.open(root / "dog/b.JPG").convert("RGB")).transpose(2, 0, 1)
    np.testing.assert_array_equal(dataset[3][0], jpeg)


def test_resize_and_center_crop_as_torchvision(tmp_path):
    """A 40x20 (w x h) image to 8: shorter side 20 -> 8 (bilinear), 16x8, then the middle 8 columns."""
    array = np.random.default_rng(1).integers(0, 256, (20, 40, 3), dtype=np.uint8)
    path = write_image(tmp_path / "c" / "wide.png", array)
    resized = np.asarray(Image.fromarray(array).resize((16, 8), Image.BILINEAR))
    np.testing.assert_array_equal(load_image(path, size=8), resized[:, 4:12].transpose(2, 0, 1))
    tall = write_image(tmp_path / "c" / "tall.png", array.transpose(1, 0, 2).copy())
    assert load_image(tall, size=8).shape == (3, 8, 8)


def test_batches_of_a_sized_folder_stack(folder):
    root, _ = folder
    images, labels = next(iter(DataLoader(ImageFolder(root, size=4), batch_size=4)))
    assert images.shape == (4, 3, 4, 4) and labels.numpy().tolist() == [0, 0, 0, 1]


@pytest.mark.parametrize("damage, phrase", [
    (lambda p: p.write_bytes(p.read_bytes()[:60]), "is not a readable image"),  # truncated
    (lambda p: p.write_text("hello, I am text in a .png"), "is not a readable image"),
    (lambda p: p.write_bytes(b""), "is not a readable image"),
    (lambda p: write_image(p.with_suffix(".gif"), np.zeros((2, 2), np.uint8)).rename(p), "is not a readable image"),
])
def test_a_damaged_or_foreign_image_is_named(folder, damage, phrase):
    root, _ = folder
    damage(root / "cat" / "z.png")
    dataset = ImageFolder(root)  # listing reads no image
    with pytest.raises(DatasetError, match=f"{root / 'cat' / 'z.png'} {phrase}"):
        dataset[1]


def test_an_image_over_the_pixel_limit_is_refused_before_decoding(tmp_path):
    path = write_image(tmp_path / "c" / "big.png", np.zeros((300, 400), np.uint8))
    with pytest.raises(DatasetError, match=f"{path} is 400x300 pixels, over the limit of 100000 pixels"):
        load_image(path, max_pixels=100_000)
    # A real bomb: a small file declaring a huge image (Pillow's own bound is 89 megapixels).
    bomb = write_image(tmp_path / "c" / "bomb.png", np.zeros((12000, 12000), np.uint8), optimize=True)
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(DatasetError, match="is 12000x12000 pixels, over the limit"):
        load_image(bomb)


def test_a_fifo_named_like_an_image_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "c.png")
    with pytest.raises(DatasetError, match="is a FIFO, not a regular file"):
        load_image(tmp_path / "c.png")


@pytest.mark.parametrize("setup, phrase", [
    (lambda root: None, "is not a folder"),
    (lambda root: root.mkdir(), "has no class folders"),
    (lambda root: (root / "a").mkdir(parents=True), r"class folders \['a'\] hold no images"),
    (lambda root: ((root / "a").mkdir(parents=True), (root / "a" / "x.txt").write_text("x"),
                   write_image(root / "b" / "y.png", np.zeros((2, 2), np.uint8))), r"class folders \['a'\] hold no"),
])
def test_an_empty_or_missing_folder_is_refused_naming_it(tmp_path, setup, phrase):
    root = tmp_path / "images"
    setup(root)
    with pytest.raises(DatasetError, match=phrase):
        ImageFolder(root)


def test_the_trainer_trains_on_a_folder_resized_to_the_model(folder, tmp_path, capsys):
    root, _ = folder
    out = tmp_path / "run"
    status = main(["--dataset", "folder", "--data-dir", str(root), "--max-steps", "1", "--batch-size", "4",
                   "--ngf", "4", "--ndf", "4", "--nz", "8", "--out", str(out)])
    err = capsys.readouterr().err
    assert status == 0, err
    assert "training on folder (4 images)" in err and (out / "checkpoint.npz").exists()


def test_the_trainer_names_a_bad_image_folder_in_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    status = main(["--dataset", "folder", "--data-dir", str(tmp_path / "empty"), "--max-steps", "1",
                   "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert status == 2 and f"image folder {tmp_path / 'empty'} has no class folders" in err
    assert "Traceback" not in err
