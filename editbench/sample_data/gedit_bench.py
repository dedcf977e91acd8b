"""A small dataset in GEdit-Bench's published layout, made from the bundled sample scenes.

The layout is the hub repository's: ``data/train-00000-of-00001.parquet`` with GEdit-Bench's
columns (``task_type``, ``key``, ``instruction``, ``instruction_language``, ``input_image``,
``input_image_raw``, ``Intersection_exist``). The rows are made up: each of GEdit's 11 task types
gets one case made of a bundled scene, with an English and a Chinese row sharing its key, and the
even cases in the intersection. Its scores mean nothing; it runs the real path.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from editbench.config.resolvers import SAMPLE_DATA

TASK_TYPES = (
    "background_change",
    "color_alter",
    "material_alter",
    "motion_change",
    "ps_human",
    "style_change",
    "subject-add",
    "subject-remove",
    "subject-replace",
    "text_change",
    "tone_transfer",
)
# The instruction of each language, per case (Chinese in GEdit's own style).
_CHINESE = "请按照指令编辑图片："


def write(out: str | Path) -> Path:
    """Write the dataset into ``out`` (created); returns the folder."""
    import datasets  # a heavy import that only this builder needs

    root = Path(out)
    cases = [
        json.loads(line)
        for line in (SAMPLE_DATA / "manifest.jsonl").read_text().splitlines()
        if line.strip()
    ]
    rows: dict[str, list] = {
        "task_type": [],
        "key": [],
        "instruction": [],
        "instruction_language": [],
        "input_image": [],
        "input_image_raw": [],
        "Intersection_exist": [],
    }
    # One case per task type: the scenes again where there are fewer scenes than types.
    cases = [cases[i % len(cases)] for i in range(len(TASK_TYPES))]
    for number, case in enumerate(cases):
        path = SAMPLE_DATA / case["image"]
        # the bytes themselves, as the hub's parquet files hold them
        image = {"bytes": path.read_bytes(), "path": path.name}
        key = hashlib.md5(f"{number}/{case['id']}".encode()).hexdigest()  # 32 hex, as GEdit's
        for language, instruction in (
            ("en", case["instruction"]),
            ("cn", _CHINESE + case["instruction"]),
        ):
            rows["task_type"].append(TASK_TYPES[number % len(TASK_TYPES)])
            rows["key"].append(key)
            rows["instruction"].append(instruction)
            rows["instruction_language"].append(language)
            rows["input_image"].append(image)
            rows["input_image_raw"].append(image)
            rows["Intersection_exist"].append(number % 2 == 0)
    features = datasets.Features(
        {
            "task_type": datasets.Value("string"),
            "key": datasets.Value("string"),
            "instruction": datasets.Value("string"),
            "instruction_language": datasets.Value("string"),
            "input_image": datasets.Image(),
            "input_image_raw": datasets.Image(),
            "Intersection_exist": datasets.Value("bool"),
        }
    )
    dataset = datasets.Dataset.from_dict(rows, features=features)
    (root / "data").mkdir(parents=True, exist_ok=True)
    dataset.to_parquet(str(root / "data" / "train-00000-of-00001.parquet"))
    return root
