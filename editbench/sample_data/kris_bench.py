"""A small dataset in KRIS-Bench's published layout, made from the bundled sample scenes.

The layout is the ``KRIS_Bench`` folder's: one folder per category (all 20), each with an
``annotation.json`` of records keyed "1", "2", ... (``ori_img``, ``gt_img``, ``ins_en``,
``explain_en``) and the images they name, with the published naming: ``1.jpg``,
``1_gt.jpg`` for a viewpoint's ground truth, ``1-1.jpg``, ``1-2.jpg`` for the inputs of a
multi-element composition, ``1-2.jpg``, ``1-3.jpg``, ``1-4.jpg`` for temporal frames (frame
``1-1.jpg`` the ground truth), ``1.png`` where the benchmark has PNG sources. As published,
``gt_img`` is absent in abstract_reasoning, and ``explain_en`` is empty outside the knowledge
categories and anomaly_correction. The records are made up from the bundled scenes; their
scores mean nothing, they run the real path.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from editbench.config.resolvers import SAMPLE_DATA

# Each category's records: (ins_en, explain_en). The images are the bundled scenes in turn.
_RECORDS: dict[str, list[tuple[str, str]]] = {
    "count_change": [
        ("Add two more cups to the table.", ""),
        ("Remove one of the cars.", ""),
    ],
    "color_change": [("Change the color of the door to red.", "")],
    "size_adjustment": [("Make the vase twice as tall.", "")],
    "part_completion": [("Complete the missing part of the fence.", "")],
    "anomaly_correction": [
        (
            "Correct the unreasonable parts in the image.",
            "Snow does not lie on a house whose chimney is on fire.",
        )
    ],
    "viewpoint_change": [("Draw the top view of the scene based on its front view.", "")],
    "position_movement": [("Move the lamp to the right side of the street.", "")],
    "temporal_prediction": [
        (
            "Based on the images from Frame 2, Frame 3, and Frame 4, predict what the image of "
            "Frame 1 in the sequence should look like. Generate the frame.",
            "",
        ),
        (
            "Based on the images from Frame 1, Frame 2, and Frame 4, predict what the image of "
            "Frame 3 in the sequence should look like. Generate the frame.",
            "",
        ),
    ],
    "humanities": [
        ("Show the building as it looked a century ago.", "Older houses had no electric lights."),
    ],
    "practical_knowledge": [
        ("Show what the ice looks like after an hour in the sun.", "Ice melts into water."),
    ],
    "biology": [("Show the plant after a week without water.", "Leaves wilt and turn brown.")],
    "chemistry": [
        (
            "Add a piece of solid sodium to the water",
            "A large amount of heat will be released, causing the water to boil",
        )
    ],
    "geography": [("Show this street in a desert climate.", "Deserts have sand and no snow.")],
    "medicine": [("Bandage the injured hand.", "A bandage covers the wound.")],
    "mathematics": [("Draw as many balls as twice three.", "Twice three is six.")],
    "physics": [
        ("Drop the glass on the stone floor.", "A glass falling on stone shatters."),
    ],
    "abstract_reasoning": [
        ("Draw the next shape in the sequence.", "The shapes gain one side each step."),
    ],
    "rule-based_reasoning": [("Make the move that wins the game.", "")],
    "multi-element_composition": [
        ("Replace the clothing of the person in the image with the ones I provided.", ""),
    ],
    "multi-instruction_execution": [("Make the sky dark and add a moon.", "")],
}
_PNG_SOURCES = ("chemistry",)


def write(out: str | Path) -> Path:
    """Write the dataset into ``out`` (created), the KRIS_Bench folder; returns it."""
    root = Path(out)
    scenes = [
        SAMPLE_DATA / json.loads(line)["image"]
        for line in (SAMPLE_DATA / "manifest.jsonl").read_text().splitlines()
        if line.strip()
    ]
    turn = 0

    def save(folder: Path, name: str) -> str:
        nonlocal turn
        with Image.open(scenes[turn % len(scenes)]) as scene:
            image = scene.convert("RGB")
        turn += 1
        image.save(folder / name, format="PNG" if name.endswith(".png") else "JPEG", quality=90)
        return name

    for category, records in _RECORDS.items():
        folder = root / category
        folder.mkdir(parents=True, exist_ok=True)
        annotation = {}
        for number, (instruction, explanation) in enumerate(records, start=1):
            extension = "png" if category in _PNG_SOURCES else "jpg"
            record: dict[str, object] = {"ori_img": None, "gt_img": ""}
            if category == "multi-element_composition":
                record["ori_img"] = [save(folder, f"{number}-{k}.jpg") for k in (1, 2)]
            elif category == "temporal_prediction":
                target = (
                    1 if number == 1 else 3
                )  # one record predicts the first frame, one the third
                frames = [k for k in (1, 2, 3, 4) if k != target]
                record["ori_img"] = [save(folder, f"{number}-{k}.jpg") for k in frames]
                record["gt_img"] = save(folder, f"{number}-{target}.jpg")
            else:
                record["ori_img"] = save(folder, f"{number}.{extension}")
            if category == "viewpoint_change":
                record["gt_img"] = save(folder, f"{number}_gt.jpg")
            if category == "abstract_reasoning":
                del record["gt_img"]
            record.update(ins_en=instruction, explain_en=explanation)
            annotation[str(number)] = record
        text = json.dumps(annotation, ensure_ascii=False, indent=4)
        (folder / "annotation.json").write_text(text + "\n", encoding="utf-8")
    return root
