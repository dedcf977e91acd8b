"""The bundled sample benchmark as a Hugging Face dataset folder, for ``dataset=hf``.

The layout is a hub repository's (``data/train-00000-of-00001.parquet``), with the columns
that ``dataset=hf`` reads by default: ``id``, ``category``, ``instruction``, ``image`` (the
image's bytes, as the hub's parquet files hold them). So
``dataset=hf dataset.path=<folder>`` runs with no column map.
"""

from __future__ import annotations

import json
from pathlib import Path

from editbench.config.resolvers import SAMPLE_DATA


def write(out: str | Path) -> Path:
    """Write the dataset into ``out`` (created); returns the folder."""
    import datasets  # a heavy import that only this builder needs

    root = Path(out)
    lines = (SAMPLE_DATA / "manifest.jsonl").read_text(encoding="utf-8").split("\n")
    cases = [json.loads(line) for line in lines if line.strip()]
    rows = {
        "id": [case["id"] for case in cases],
        "category": [case["category"] for case in cases],
        "instruction": [case["instruction"] for case in cases],
        "image": [
            {"bytes": (SAMPLE_DATA / case["image"]).read_bytes(), "path": Path(case["image"]).name}
            for case in cases
        ],
    }
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "category": datasets.Value("string"),
            "instruction": datasets.Value("string"),
            "image": datasets.Image(),
        }
    )
    dataset = datasets.Dataset.from_dict(rows, features=features)
    (root / "data").mkdir(parents=True, exist_ok=True)
    dataset.to_parquet(str(root / "data" / "train-00000-of-00001.parquet"))
    return root
