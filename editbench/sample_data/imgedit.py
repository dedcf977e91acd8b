"""A small dataset in ImgEdit-Bench's published layout (Basic suite), made from the bundled
sample scenes.

The layout is the one ImgEdit's ``basic_bench.py`` reads: ``basic_edit.json`` (ImgEdit's
``Benchmark/Basic/basic_edit.json``: one object mapping each key to ``{"id", "prompt",
"edit_type"}``, all strings) beside ``Benchmark/singleturn/`` (``Benchmark.tar`` extracted), the
sources as JPEG files in ImgEdit's folders (``for_add``, ``clothes``, ``daily object`` with its
space, ``compose/human``, ...). The entries are made up: every one of the nine edit types has a
sample, ``add`` and ``remove`` have two, and one image serves two keys, as 146 of ImgEdit's do;
keys are numeric strings, neither contiguous nor sorted. Its scores mean nothing; it runs the
real path.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from editbench.config.resolvers import SAMPLE_DATA

ANNOTATIONS = "basic_edit.json"
IMAGES = "Benchmark/singleturn"

# key: (source image path under IMAGES, bundled scene, edit_type, prompt), in the file's order.
ENTRIES = {
    "1082": (
        "daily object/000342021.jpg",
        "referential-second-cup",
        "adjust",
        "Change the second cup from the left to a glossy red ceramic.",
    ),
    "97": (
        "for_add/000236569.jpg",
        "physical-chrome-ball",
        "add",
        "Add a shiny chrome ball on the table next to the vase.",
    ),
    "450": (
        "clothes/00000051.jpg",
        "referential-umbrella",
        "extract",
        "Extract the shirt worn by the person holding the umbrella.",
    ),
    "1149": (
        "compose/human/14.jpg",
        "social-bus-stop",
        "compose",
        "Add one more person waiting for the bus, and make the bench red.",
    ),
    "98": (
        "for_add/000236570.jpg",
        "physical-pond-log",
        "add",
        "Add a large wooden log floating in the pond.",
    ),
    "1009": (
        "clothes/00000051.jpg",
        "referential-umbrella",
        "action",
        "Make the person holding the umbrella wave with the other hand.",
    ),
    "673": (
        "style/000278574.jpg",
        "environment-snowy-house",
        "style",
        "Transfer the image into a watercolor painting style.",
    ),
    "212": (
        "transport/000112233.jpg",
        "social-parking",
        "replace",
        "Replace the car on the street with a yellow taxi.",
    ),
    "507": (
        "daily object/000310001.jpg",
        "causal-glass-falls",
        "remove",
        "Remove the glass from the table.",
    ),
    "22": (
        "architecture/000190002.jpg",
        "causal-snowman-sun",
        "remove",
        "Remove the snowman in front of the house.",
    ),
    "880": (
        "architecture/000145678.jpg",
        "environment-night-street",
        "background",
        "Change the background to a starry night sky over the hills.",
    ),
}


def write(out: str | Path) -> Path:
    """Write the dataset into ``out`` (created); returns the folder."""
    root = Path(out)
    images = root / IMAGES
    annotations = {}
    for key, (path, scene, edit_type, prompt) in ENTRIES.items():
        target = images / path
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            with Image.open(SAMPLE_DATA / "images" / f"{scene}.png") as image:
                image.convert("RGB").save(target, format="JPEG", quality=95)
        annotations[key] = {"id": path, "prompt": prompt, "edit_type": edit_type}
    (root / ANNOTATIONS).write_text(json.dumps(annotations, indent=4) + "\n")
    return root
