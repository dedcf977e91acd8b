"""Write a small copy of a published benchmark's layout, made from the bundled sample scenes:
the same files, folders, fields and types as the release, with made-up content. For trying a
preset before downloading the benchmark, and for the tests.

    python -m editbench.sample_data.benchmarks gedit_bench /tmp/GEdit-Bench
    python -m editbench dataset=gedit_bench dataset.path=/tmp/GEdit-Bench experiment=demo
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

# dataset preset -> the module of this package that writes its layout
LAYOUTS = {
    "hf": "hf",  # the bundled sample as a hub dataset folder, for the generic dataset=hf
    "gedit_bench": "gedit_bench",
    "imgedit": "imgedit",
    "kris_bench": "kris_bench",
    "rise_bench": "rise_bench",
}


def write(name: str, out: str | Path) -> Path:
    """Write the layout of the dataset preset ``name`` into ``out``; returns the folder to
    give the preset (its ``dataset.path`` or ``dataset.root``)."""
    if name not in LAYOUTS:
        raise ValueError(f"no layout for {name!r}; expected one of {', '.join(LAYOUTS)}")
    module = importlib.import_module(f"editbench.sample_data.{LAYOUTS[name]}")
    return module.write(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("benchmark", choices=sorted(LAYOUTS))
    parser.add_argument("out", type=Path, help="the folder to write (created)")
    args = parser.parse_args()
    folder = write(args.benchmark, args.out)
    print(folder)


if __name__ == "__main__":
    main()
