"""A small dataset in RISEBench's published layout, made from the bundled sample scenes.

The layout is the release's: ``datav2_total_w_subtask.json`` (a JSON list of flat items, keys
present only where they apply) beside ``data/<category>_images/<n>.png`` (``.jpg`` for some
sources, as in the release), reference images named ``<n>_ref.png``. The items are made up: the
bundled scenes stand for RISEBench's images, with instructions and references in its style, so
that every judging variant of ``conf/protocol/rise.yaml`` and each flag occur: a source image
shown to the reasoning judge (``reasoning_img``), items without a consistency judgement
(``consistency_free``), spatial and logical items judged against a reference image, a logical
item answered in words and one judged without its instruction (``reasoning_wo_ins``). One item
carries a flag as JSON null, which reads as unset. Its scores mean nothing; it runs the real path.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from editbench.config.resolvers import SAMPLE_DATA

ANNOTATIONS = "datav2_total_w_subtask.json"
IMAGES = "data"

# (index, scene of the source image, file extension, the item's other keys); a reference image
# (key reference_img) is drawn from the scene named under "ref_scene".
_ITEMS: tuple[tuple[str, str, str, dict], ...] = (
    (
        "temporal_reasoning_1",
        "causal-snowman-sun",
        "png",
        {
            "subtask": "Environmental Cycles",
            "instruction": "Draw what this scene will look like after three warm spring weeks.",
            "reference": "The snowman has melted into a puddle; grass shows through the snow.",
        },
    ),
    (
        "temporal_reasoning_2",
        "physical-pond-log",
        "png",
        {
            "subtask": "Material Progression",
            "instruction": "Show the log after it has lain in the pond for ten years.",
            "reference": "A dark, rotten log covered in moss, partly sunk in the same pond.",
            "reasoning_img": True,
        },
    ),
    (
        "temporal_reasoning_3",
        "environment-snowy-house",
        "jpg",
        {
            "subtask": "Societal Transformation",
            "instruction": "Draw this street as it may look a hundred years from now.",
            "reference": "A modern street with glass buildings where the snowy house stood.",
            "consistency_free": True,
            "reasoning_img": None,  # present but null, as pandas writes a missing value: unset
        },
    ),
    (
        "causal_reasoning_1",
        "causal-glass-falls",
        "png",
        {
            "subtask": "Structural Deformation",
            "instruction": "Draw what happens after the glass hits the tiled floor.",
            "reference": "The glass lies shattered on the floor, its water spilled around it.",
        },
    ),
    (
        "causal_reasoning_2",
        "social-parking",
        "png",
        {
            "subtask": "Physics Manifestation",
            "instruction": "Show the street right after a heavy hailstorm.",
            "reference": "White hailstones cover the street and the roofs of the cars.",
            "consistency_free": True,
            "reasoning_img": True,
        },
    ),
    (
        "spatial_reasoning_1",
        "referential-second-cup",
        "png",
        {
            "subtask": "Object Arrangement",
            "instruction": "Arrange the cups from the smallest to the largest, left to right.",
            "ref_scene": "social-bus-stop",
        },
    ),
    (
        "spatial_reasoning_2",
        "environment-night-street",
        "png",
        {
            "subtask": "Viewpoint Generation",
            "instruction": "Draw the street as seen from above.",
            "reference": "A top view: two rows of lamps along a straight road.",
            "reasoning_img": True,
        },
    ),
    (
        "spatial_reasoning_3",
        "physical-chrome-ball",
        "png",
        {
            "subtask": "Component Assembly",
            "instruction": "Stack the objects on the table into a single tower.",
            "reference": "The vase stands on the table with the ball balanced on top of it.",
        },
    ),
    (
        "logical_reasoning_1",
        "referential-umbrella",
        "jpg",
        {
            "subtask": "Puzzle Solving",
            "instruction": "Draw the path from the red dot to the green dot in blue.",
            "ref_scene": "environment-night-street",
        },
    ),
    (
        "logical_reasoning_2",
        "social-bus-stop",
        "png",
        {
            "subtask": "Mathematical Derivation",
            "instruction": "Write the number of people waiting on the sign above the bus stop.",
            "reference_txt": "The sign shows the number 3.",
        },
    ),
    (
        "logical_reasoning_3",
        "causal-snowman-sun",
        "png",
        {
            "subtask": "Pattern Prediction",
            "instruction": "Draw the next figure of the sequence.",
            "ref_scene": "physical-pond-log",
            "reasoning_wo_ins": True,
        },
    ),
)


def write(out: str | Path) -> Path:
    """Write the dataset into ``out`` (created); returns the folder."""
    root = Path(out)
    items = []
    for index, scene, extension, keys in _ITEMS:
        category, number = index.rsplit("_", 1)
        folder = f"{category}_images"
        (root / IMAGES / folder).mkdir(parents=True, exist_ok=True)
        item = {"index": index, "category": category, "subtask": keys["subtask"]}
        item["instruction"] = keys["instruction"]
        item["image"] = f"{folder}/{number}.{extension}"
        _copy(scene, root / IMAGES / item["image"])
        if "ref_scene" in keys:
            item["reference_img"] = f"{folder}/{number}_ref.png"
            _copy(keys["ref_scene"], root / IMAGES / item["reference_img"])
        item.update({k: v for k, v in keys.items() if k not in item and k != "ref_scene"})
        items.append(item)
    (root / ANNOTATIONS).write_text(json.dumps(items, indent=4, ensure_ascii=False) + "\n")
    return root


def _copy(scene: str, path: Path) -> None:
    """The bundled scene's image written to ``path``, as PNG or JPEG by its extension."""
    with Image.open(SAMPLE_DATA / "images" / f"{scene}.png") as image:
        if path.suffix == ".png":
            image.save(path)
        else:
            image.convert("RGB").save(path, quality=90)
