"""The images a judge sees, as a request's image parts say: decoded to RGB, and resized where a
part asks for it."""

from __future__ import annotations

from typing import Any

from PIL import Image

from editbench.images import open_rgb


def open_part(part: dict[str, Any]) -> Image.Image:
    """The RGB image of one image part, at the part's ``resize_to`` size when it has one.

    The resize uses Pillow's default filter for RGB images (bicubic), as VIEScore's
    ``Image.open(...).convert("RGB").resize(source.size)`` does; the conversion is
    :func:`~editbench.images.to_rgb`, which keeps a 16-bit image's levels.
    """
    image = open_rgb(part["image"])
    size = part.get("resize_to")
    if size is not None and tuple(size) != image.size:
        image = image.resize((int(size[0]), int(size[1])), Image.Resampling.BICUBIC)
    return image


def part_size(part: dict[str, Any]) -> tuple[int, int]:
    """The size the judge sees a part at, read from the file's header when it is not resized."""
    if part.get("resize_to") is not None:
        width, height = part["resize_to"]
        return int(width), int(height)
    with Image.open(part["image"]) as image:  # reads the header only
        return image.size
