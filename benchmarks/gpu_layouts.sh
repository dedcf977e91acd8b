#!/usr/bin/env bash
# On a 2-GPU device machine: the tiny models end to end with gpus=2 in both layouts, the GPU
# tests (pytest -m gpu: layouts and a killed worker), and each run's results.json under $OUT.
# Needs the wheels of ../shared/bench/fetch-wheels.sh carried as .whl/.
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD
export EDITBENCH_CACHE=/tmp/editbench-cache
nvidia-smi -L | tee "$OUT/gpus.txt"
python3 -c "import torch, transformers, diffusers, hydra; print('torch', torch.__version__, 'transformers', transformers.__version__, 'diffusers', diffusers.__version__, 'hydra', hydra.__version__)" | tee "$OUT/versions.txt"
for layout in shared split; do
  /usr/bin/time -f "$layout wall %e s" python3 -m editbench experiment=demo gpus=2 layout=$layout \
    tracking=none scorer.batch_size=2 hydra.run.dir="$OUT/$layout" store.root=/tmp/store-$layout \
    > "$OUT/$layout.log" 2>&1
  echo "$layout exit $?"
  tail -1 "$OUT/$layout.log"
done
python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu.py 2>&1 | tail -15 | tee "$OUT/pytest-gpu.log"
python3 - <<'PY'
import json, os
for layout in ("shared", "split"):
    path = os.path.join(os.environ.get("OUT", "/tmp/out"), layout, "results.json")
    if os.path.exists(path):
        r = json.load(open(path))
        print(layout, json.dumps({"timing": r["timing"], "edit": {k: v["devices"] + [v["images"], v["load_s"]] for k, v in r["throughput"]["edit"]["workers"].items()}, "score": {k: v["devices"] + [v["images"], v["load_s"]] for k, v in r["throughput"]["score"]["workers"].items()}}))
PY
