"""What every part of editbench asks of an image: a size a model can take, and RGB pixels."""

from __future__ import annotations

# The shortest side an editor or judge is given, and the most one side may exceed the other:
# Qwen2-VL's processor and qwen-vl-utils refuse an aspect ratio over 200, and editors that
# keep the source's size round each side down to a multiple of 8 or 16.
MIN_SIDE = 16
MAX_ASPECT = 200


def size_problem(width: int, height: int) -> str | None:
    """Why an image of ``width`` x ``height`` pixels cannot be edited or judged, or None."""
    if min(width, height) < MIN_SIDE:
        return f"is {width}x{height} pixels; expected at least {MIN_SIDE} pixels on each side"
    if max(width, height) > MAX_ASPECT * min(width, height):
        return (
            f"is {width}x{height} pixels, an aspect ratio over {MAX_ASPECT}:1; expected at most "
            f"{MAX_ASPECT}:1"
        )
    return None
