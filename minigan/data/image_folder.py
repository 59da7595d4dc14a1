"""ImageFolder: a user's own images, as torchvision.datasets.ImageFolder finds them
(root/<class>/**/<image>, classes in sorted order), decoded by Pillow within limits."""
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import DatasetError
from .limits import MAX_IMAGE_PIXELS, open_regular

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")  # torchvision's
_FORMATS = ("JPEG", "PNG", "PPM", "BMP", "TIFF", "WEBP")  # the only decoders Pillow may try


class ImageFolder:
    """Images under root/<class>/ (any depth, links followed), class folders sorted, as torchvision's:
    `classes`, `class_to_idx`, `samples` [(path, class index)] sorted by class then path, `targets`.
    Files without an image extension (IMG_EXTENSIONS, any case) are skipped.

    Item i is (transform(image), target_transform(class index)); the image is uint8 (3, H, W),
    RGB as torchvision's default loader converts it. With `size`, each image is resized so that
    its shorter side is `size` and then center-cropped to size x size (torchvision's Resize(size)
    then CenterCrop(size)), so that all items stack into one batch. An image of more than
    `max_pixels` (default limits.MAX_IMAGE_PIXELS) is refused before it is decoded.
    """

    def __init__(self, root, transform=None, target_transform=None, size=None, max_pixels=None):
        root = Path(root)
        if not root.is_dir():
            raise DatasetError(f"image folder {root} is not a folder; give the folder that holds one "
                               f"sub-folder of images per class")
        self.root = root
        self.classes = sorted(entry.name for entry in os.scandir(root) if entry.is_dir())
        if not self.classes:
            raise DatasetError(f"image folder {root} has no class folders: put the images in "
                               f"{root}/<class name>/, one folder per class (one folder for unlabelled images)")
        self.class_to_idx = {name: index for index, name in enumerate(self.classes)}
        self.samples = [(path, index) for index, name in enumerate(self.classes) for path in _images(root / name)]
        empty = sorted({*self.classes} - {path.relative_to(root).parts[0] for path, _ in self.samples})
        if empty:
            raise DatasetError(f"image folder {root}: class folders {empty} hold no images (files ending in "
                               f"{', '.join(IMG_EXTENSIONS)})")
        self.targets = [index for _, index in self.samples]
        self.transform, self.target_transform = transform, target_transform
        self.size = size
        self.max_pixels = MAX_IMAGE_PIXELS if max_pixels is None else max_pixels

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, target = self.samples[index]
        image = load_image(path, self.size, self.max_pixels)
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target


def _images(folder):
    """The image files under `folder`, in torchvision's order (sorted walk, sorted names)."""
    for directory, _, names in sorted(os.walk(folder, followlinks=True)):
        yield from (Path(directory) / name for name in sorted(names) if name.lower().endswith(IMG_EXTENSIONS))


def load_image(path, size=None, max_pixels=None):
    """The image file at `path` as uint8 RGB (3, H, W), resized and center-cropped to size x size if
    `size`; a DatasetError naming the file if it is not a whole image of at most `max_pixels`."""
    max_pixels = MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    too_big = f"over the limit of {max_pixels} pixels for one image (a decompression bomb, or too big to train on)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the bound is checked here
            with open_regular(path) as f, Image.open(f, formats=_FORMATS) as image:  # reads the header only
                if image.width * image.height > max_pixels:
                    raise DatasetError(f"{path} is {image.width}x{image.height} pixels, {too_big}; shrink it "
                                       f"or pass a larger max_pixels")
                rgb = image.convert("RGB")  # decodes
    except FileNotFoundError:
        raise DatasetError(f"{path} is missing; it was there when the folder was listed") from None
    except Image.DecompressionBombError as exc:  # Pillow's own bound, past twice Image.MAX_IMAGE_PIXELS
        raise DatasetError(f"{path} is {too_big} ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:  # how Pillow meets damage
        raise DatasetError(f"{path} is not a readable image ({type(exc).__name__}: {exc})") from None
    if size is not None:
        rgb = _resize_center_crop(rgb, size)
    return np.ascontiguousarray(np.asarray(rgb).transpose(2, 0, 1))


def _resize_center_crop(image, size):
    """torchvision's Resize(size) (shorter side to size, bilinear) then CenterCrop(size)."""
    width, height = image.size
    if width <= height:
        new_width, new_height = size, int(size * height / width)
    else:
        new_width, new_height = int(size * width / height), size
    image = image.resize((new_width, new_height), Image.BILINEAR)
    left, top = int(round((new_width - size) / 2.0)), int(round((new_height - size) / 2.0))
    return image.crop((left, top, left + size, top + size))
