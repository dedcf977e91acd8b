"""How long validation takes to check a dataset's images: a manifest of ``--count`` items with
``--side``² images, composed and instantiated as ``editbench.config.validate.validate`` does
(``hydra.utils.instantiate(cfg.dataset)``), which decodes every image whole.

Each repeat times a first validation, with an empty cache of passed images
(``$EDITBENCH_CACHE``, a fresh folder), then a second one of the same files, which the cache
lets skip the decoding. Wall and CPU seconds both: the CPU figure does not depend on what
else the machine runs.

Each image is its own file with photograph-like content: a sample scene, resized, over a smooth
random colour field, with sensor-like noise (a PNG of about 2 MB, as a photograph saved as PNG
is; flat scenes compress to a few KB and decode far faster than real data). Every
``--jpeg-every``-th image is a JPEG. The dataset is written once into ``--data`` and reused by
later calls (its files are then in the page cache: the figures are warm reads).

    python -m benchmarks.validation_speed --out /tmp/validation --data /tmp/validation-data
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from PIL import Image

from benchmarks.common import log_to
from editbench.config.resolvers import register_resolvers
from editbench.config.schema import register_schemas
from editbench.sources.manifest import MANIFEST, load_manifest

log = logging.getLogger("validation_speed")

CONF = Path(__file__).resolve().parents[1] / "conf"
NOISE_SIGMA = 6.0  # grey levels: a phone photograph's noise, which sets how well a PNG packs


def write_image(args: tuple[int, int, str, str]) -> None:
    """Image ``index`` of the dataset: a scene over a colour field with noise, at ``path``."""
    index, side, scene, path = args
    rng = np.random.default_rng(index)
    field = Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).resize(
        (side, side), Image.Resampling.BICUBIC
    )
    with Image.open(scene) as opened:
        shown = opened.convert("RGB").resize((side, side), Image.Resampling.BICUBIC)
    pixels = np.asarray(Image.blend(field, shown, 0.7), dtype=np.float32)
    pixels += rng.normal(0.0, NOISE_SIGMA, pixels.shape).astype(np.float32)
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, quality=90)


def write_dataset(root: Path, count: int, side: int, jpeg_every: int) -> None:
    """A manifest dataset of ``count`` items in ``root``, unless one of that size is there."""
    manifest = root / MANIFEST
    if manifest.is_file() and len(manifest.read_text().splitlines()) == count:
        log.info("reusing the dataset in %s", root)
        return
    (root / "images").mkdir(parents=True, exist_ok=True)
    scenes = load_manifest(files("editbench") / "sample_data")
    rows, jobs = [], []
    for index in range(count):
        scene = scenes[index % len(scenes)]
        extension = "jpg" if jpeg_every and index % jpeg_every == jpeg_every - 1 else "png"
        image = f"images/{index:05d}.{extension}"
        jobs.append((index, side, scene.image, str(root / image)))
        rows.append(
            {
                "id": f"{scene.id}-{index:05d}",
                "category": scene.category,
                "instruction": scene.instruction,
                "image": image,
            }
        )
    start = time.perf_counter()
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(write_image, jobs, chunksize=16))
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows))
    log.info("wrote %d images in %.1f s", count, time.perf_counter() - start)


def time_validation(root: Path) -> dict[str, float]:
    """Seconds to compose the config and to instantiate its dataset, as validation does, and
    the CPU seconds of this process (all its threads) meanwhile."""
    cpu, start = time.process_time(), time.perf_counter()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(
            "config", overrides=["experiment=demo", "dataset=sample", f"dataset.root={root}"]
        )
    composed = time.perf_counter()
    samples = instantiate(cfg.dataset)
    done = time.perf_counter()
    return {
        "compose_s": composed - start,
        "instantiate_s": done - composed,
        "total_s": done - start,
        "cpu_s": time.process_time() - cpu,
        "samples": len(samples),
    }


def first_and_again(root: Path, cache: Path) -> dict[str, dict[str, float]]:
    """A validation with an empty cache of passed images at ``cache``, then one more."""
    os.environ["EDITBENCH_CACHE"] = str(cache)
    return {"first": time_validation(root), "again": time_validation(root)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="log and results folder")
    parser.add_argument("--data", type=Path, required=True, help="the dataset (written once)")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--side", type=int, default=1024)
    parser.add_argument("--jpeg-every", type=int, default=10, help="every N-th image a JPEG")
    parser.add_argument("--repeats", type=int, default=3)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    log_to(args.out, "validation_speed")
    register_schemas()
    register_resolvers()
    write_dataset(args.data, args.count, args.side, args.jpeg_every)
    sizes = [path.stat().st_size for path in (args.data / "images").iterdir()]
    facts = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "count": args.count,
        "side": args.side,
        "mean_file_mb": statistics.mean(sizes) / 1e6,
    }
    log.info("%s", facts)
    runs = []
    with tempfile.TemporaryDirectory() as caches:
        for repeat in range(args.repeats):
            runs.append(first_and_again(args.data, Path(caches) / str(repeat)))
            log.info("run %d: %s", repeat + 1, runs[-1])
    result = {**facts, "runs": runs, "load_average_after": os.getloadavg()}
    for which in ("first", "again"):
        for figure in ("total_s", "cpu_s"):
            median = statistics.median(run[which][figure] for run in runs)
            result[f"median_{which}_{figure}"] = median
    (args.out / "validation_speed.json").write_text(json.dumps(result, indent=2) + "\n")
    log.info("medians: %s", {k: round(v, 2) for k, v in result.items() if k.startswith("median")})
    return result


if __name__ == "__main__":
    main()
