"""Small JPEG thumbnails as data URIs, so HTML pages stay self-contained and light."""

from __future__ import annotations

import base64
import io
import logging

from PIL import Image

from editbench.images import to_rgb

log = logging.getLogger(__name__)

# Longest side, in pixels, of a thumbnail on the pages that show few images large: the dry-run
# page (images up to 256 pixels wide) and the comparison (up to 200). The report's gallery has
# its own, smaller size (report.GALLERY_THUMBNAIL_SIZE).
PAGE_THUMBNAIL_SIZE = 256
JPEG_QUALITY = 80


def thumbnail_data_uri(path: str, size: int = PAGE_THUMBNAIL_SIZE) -> str | None:
    """A JPEG data URI of the image at ``path`` shrunk to ``size``, or None if unreadable."""
    try:
        with Image.open(path) as image:
            # A JPEG is decoded at 1/2..1/8 scale straight away, much faster than in full.
            image.draft("RGB", (size, size))
            thumbnail = to_rgb(image)
    except OSError as error:
        log.warning("cannot read image %s: %s", path, error)
        return None
    thumbnail.thumbnail((size, size))
    buffer = io.BytesIO()
    thumbnail.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
