"""editbench.images: RGB pixels from any mode (16-bit grey too), and the check that an image's
data decodes whole at a size models take; the dataset's cache of images that passed it."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from editbench import images
from editbench.images import image_problem, open_rgb, to_rgb
from editbench.judges.images import open_part
from editbench.results.thumbnails import thumbnail_data_uri
from editbench.sources.images import decode_problem, decode_problems

SIDE = 64
# A horizontal ramp over the 16-bit range: 0 at the left edge, 65535 at the right.
RAMP_16 = np.tile(np.linspace(0, 65535, SIDE).round().astype(np.uint16), (SIDE, 1))


def encoded(image: Image.Image, format: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def smooth_rgb(width: int = SIDE, height: int = SIDE) -> Image.Image:
    """A smooth image: deflate codes it with Huffman blocks, so a flipped byte breaks them."""
    y, x = np.mgrid[0:height, 0:width]
    return Image.fromarray(np.stack([x * 3, y * 3, (x + y) % 256], -1).astype(np.uint8))


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_by_hand(rows: bytes, width: int, height: int, depth: int, colour: int) -> bytes:
    """A PNG of the already filtered ``rows`` (each a filter-type byte, then its samples), as
    any encoder writes one: signature, IHDR, one IDAT, IEND."""
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(rows))
        + png_chunk(b"IEND", b"")
    )


def with_damaged_idat(data: bytes) -> bytes:
    """``data`` with 8 bytes flipped in the middle of its first IDAT chunk's zlib stream, the
    chunk's CRC computed again: every checksum of the file is valid, its pixels are not."""
    position = 8
    while True:
        length, kind = struct.unpack_from(">I4s", data, position)
        if kind == b"IDAT":
            break
        position += 12 + length
    damaged = bytearray(data)
    middle = position + 8 + length // 2
    for index in range(middle, middle + 8):
        damaged[index] ^= 0xFF
    crc = zlib.crc32(bytes(damaged[position + 4 : position + 8 + length]))
    struct.pack_into(">I", damaged, position + 8 + length, crc)
    return bytes(damaged)


def grey_16_png_by_hand() -> bytes:
    """RAMP_16 as a 16-bit greyscale PNG written from numpy's big-endian samples."""
    rows = np.hstack([np.zeros((SIDE, 1), np.uint8), RAMP_16.astype(">u2").view(np.uint8)])
    return png_by_hand(rows.tobytes(), SIDE, SIDE, depth=16, colour=0)


def left_middle_right(image: Image.Image) -> list[int]:
    red = np.asarray(image)[SIDE // 2, :, 0]
    return [int(red[0]), int(red[SIDE // 2]), int(red[-1])]


# -- RGB pixels -----------------------------------------------------------------------------------


@pytest.mark.parametrize("writer", ["pillow", "by hand"])
def test_a_16_bit_grey_png_stays_a_gradient(tmp_path: Path, writer: str) -> None:
    path = tmp_path / "ramp.png"
    if writer == "pillow":
        Image.fromarray(RAMP_16).save(path)
    else:
        path.write_bytes(grey_16_png_by_hand())

    image = open_rgb(path)

    assert image.mode == "RGB"
    assert left_middle_right(image) == [0, round(int(RAMP_16[0, SIDE // 2]) / 257), 255]
    red = np.asarray(image)[0, :, 0].astype(int)
    assert (np.diff(red) >= 0).all() and len(set(red)) > SIDE // 2  # a ramp, not a flat white


@pytest.mark.parametrize("mode", ["I;16", "I;16L", "I;16B", "I"])
def test_each_16_bit_layout_is_scaled_by_257(mode: str) -> None:
    dtype = {"I;16": "<u2", "I;16L": "<u2", "I;16B": ">u2", "I": "<i4"}[mode]
    image = Image.frombytes(mode, (SIDE, SIDE), RAMP_16.astype(dtype).tobytes())

    pixels = np.asarray(to_rgb(image))

    assert pixels.dtype == np.uint8
    expected = np.rint(RAMP_16 / 257).astype(np.uint8)
    assert (pixels[..., 0] == expected).all() and (pixels[..., 2] == expected).all()


def test_a_32_bit_integer_image_clips_outside_the_16_bit_range() -> None:
    values = np.array([[-5, 0, 32896, 65535, 1 << 20]], dtype=np.int32).repeat(4, axis=0)
    assert np.asarray(to_rgb(Image.fromarray(values)))[0, :, 0].tolist() == [0, 0, 128, 255, 255]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.0, 0.5, 1.0], [0, 128, 255]),  # floats in 0..1, as numpy and scikit-image hold them
        ([0.0, 127.6, 300.0], [0, 128, 255]),  # above 1: Pillow's 0..255, clipped
        ([float("nan"), 0.25, -1.0], [0, 64, 0]),
    ],
)
def test_a_float_image_is_read_on_its_scale(values: list[float], expected: list[int]) -> None:
    image = Image.fromarray(np.array([values] * 3, dtype=np.float32))
    assert np.asarray(to_rgb(image))[0, :, 1].tolist() == expected


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGBA", "LA", "CMYK", "La", "RGBa", "YCbCr"])
def test_every_other_mode_becomes_rgb(mode: str) -> None:
    source = smooth_rgb().convert("RGBA")
    image = source.convert("LA").convert(mode) if mode == "La" else source.convert(mode)
    converted = to_rgb(image)
    assert (converted.mode, converted.size) == ("RGB", (SIDE, SIDE))


def test_open_rgb_returns_an_image_that_outlives_its_file(tmp_path: Path) -> None:
    smooth_rgb().save(tmp_path / "a.png")
    image = open_rgb(tmp_path / "a.png")
    (tmp_path / "a.png").unlink()
    assert image.getpixel((10, 20)) == (30, 60, 30)


def test_the_judge_sees_a_16_bit_gradient_as_one(tmp_path: Path) -> None:
    path = tmp_path / "ramp.png"
    Image.fromarray(RAMP_16).save(path)

    assert left_middle_right(open_part({"image": str(path)}))[::2] == [0, 255]
    resized = open_part({"image": str(path), "resize_to": [SIDE // 2, SIDE // 2]})
    assert np.asarray(resized)[..., 0].std() > 50


def test_a_thumbnail_of_a_16_bit_image_is_not_white(tmp_path: Path) -> None:
    path = tmp_path / "ramp.png"
    Image.fromarray(RAMP_16).save(path)
    uri = thumbnail_data_uri(str(path), size=32)
    assert uri is not None
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as thumbnail:
        assert np.asarray(thumbnail.convert("L")).mean() < 200


# -- the decoding check ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        encoded(smooth_rgb()),
        encoded(Image.fromarray(RAMP_16)),
        grey_16_png_by_hand(),
        encoded(smooth_rgb().convert("P")),
        encoded(smooth_rgb().convert("1")),
        encoded(smooth_rgb().convert("RGBA")),
        encoded(smooth_rgb().convert("LA")),
        encoded(smooth_rgb(), "JPEG"),
        encoded(smooth_rgb().convert("CMYK"), "JPEG"),
        encoded(smooth_rgb(), "JPEG", progressive=True),
        encoded(smooth_rgb(), "WEBP"),
        encoded(smooth_rgb(), "PNG", save_all=True, append_images=[smooth_rgb().rotate(90)]),
        encoded(smooth_rgb(), "PNG", optimize=True),
    ],
    ids=lambda data: f"{len(data)}b",
)
def test_a_whole_image_passes(data: bytes) -> None:
    assert image_problem(data) is None


def test_pixel_data_broken_behind_valid_checksums_is_named() -> None:
    problem = image_problem(with_damaged_idat(encoded(smooth_rgb())))
    assert problem is not None
    assert problem.startswith("cannot be read as an image (damaged image data in chunk IDAT")
    assert problem.endswith("expected a complete, readable image file")


def test_a_row_of_an_unknown_filter_type_is_named() -> None:
    rows = bytearray(np.zeros((SIDE, 1 + SIDE), np.uint8).tobytes())
    rows[(1 + SIDE) * 5] = 9  # the sixth row's filter type
    problem = image_problem(png_by_hand(bytes(rows), SIDE, SIDE, depth=8, colour=0))
    assert problem is not None and "a row of an unknown filter type" in problem


def test_image_data_too_short_for_its_rows_is_named() -> None:
    rows = np.zeros((SIDE - 1, 1 + SIDE), np.uint8).tobytes()  # one row short
    problem = image_problem(png_by_hand(rows, SIDE, SIDE, depth=8, colour=0))
    assert problem is not None
    assert f"inflates to {(SIDE - 1) * (SIDE + 1)} of its {SIDE * (SIDE + 1)} bytes" in problem


def test_a_chunk_with_a_wrong_crc_is_named() -> None:
    data = bytearray(encoded(smooth_rgb()))
    data[-20] ^= 0x01  # inside the IDAT chunk, whose CRC no longer matches
    problem = image_problem(bytes(data))
    assert problem is not None and "fails its CRC check" in problem


@pytest.mark.parametrize("cut", [0.5, -12, -4])
def test_a_cut_png_is_named(cut: float) -> None:
    data = encoded(smooth_rgb())
    end = int(len(data) * cut) if isinstance(cut, float) else cut
    problem = image_problem(data[:end])
    assert problem is not None and problem.startswith("cannot be read as an image")


@pytest.mark.parametrize("size", [(1, 5000), (5000, 1), (15, 64), (16, 3300)])
def test_a_size_no_model_takes_is_named(size: tuple[int, int]) -> None:
    problem = image_problem(encoded(Image.new("RGB", size)))
    assert problem is not None and problem.startswith(f"is {size[0]}x{size[1]} pixels")


def test_without_decoding_only_the_header_is_read() -> None:
    assert image_problem(with_damaged_idat(encoded(smooth_rgb())), decode=False) is None
    assert image_problem(encoded(Image.new("RGB", (1, 5000))), decode=False) is not None


# -- the dataset's check, and its memory of images that passed ------------------------------------


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("EDITBENCH_CACHE", str(folder))
    return folder


def test_an_image_that_passed_is_not_decoded_again(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.png"
    smooth_rgb().save(path)
    assert decode_problem(path) is None
    assert len(list(cache.glob(f"passed-images-v{images.DECODE_CHECK_VERSION}/*/*"))) == 1

    def must_not_decode(data: bytes) -> str:
        raise AssertionError("decoded again")

    monkeypatch.setattr(images, "_png_data_problem", must_not_decode)
    assert decode_problem(path) is None
    # a file of other bytes is decoded
    (tmp_path / "b.png").write_bytes(encoded(smooth_rgb().rotate(90)))
    assert "decoded again" in (decode_problem(tmp_path / "b.png") or "")


def test_an_image_that_failed_is_not_remembered(tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(with_damaged_idat(encoded(smooth_rgb())))
    assert decode_problem(path) is not None
    assert decode_problem(path) is not None
    assert not cache.exists()


def test_a_cache_that_cannot_be_written_costs_nothing_but_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("EDITBENCH_CACHE", str(tmp_path / "file"))  # a file: no folder there
    smooth_rgb().save(tmp_path / "a.png")
    assert decode_problem(tmp_path / "a.png") is None


def test_each_file_is_checked_once_and_every_path_answered(tmp_path: Path, cache: Path) -> None:
    smooth_rgb().save(tmp_path / "good.png")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    paths = [str(tmp_path / name) for name in ("good.png", "bad.png", "good.png", "gone.png")]

    problems = decode_problems(paths)

    assert list(problems) == paths[:2] + paths[3:]
    assert problems[paths[0]] is None
    assert problems[paths[1]].startswith("cannot be read as an image (UnidentifiedImageError")
    assert problems[paths[3]] == (
        "cannot be read (No such file or directory); expected a readable image file"
    )
