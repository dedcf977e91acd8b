"""Validation first: everything a run needs, checked before any model loads."""

from __future__ import annotations

import json
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from editbench.config.devices import resolve_devices
from editbench.editors.base import Editor
from editbench.errors import EditbenchError
from editbench.judges.base import Judge
from editbench.plan import Plan, make_plan
from editbench.protocols.checks import check_protocol
from editbench.protocols.spec import Protocol
from editbench.records import Sample
from editbench.store import Store

log = logging.getLogger(__name__)

# Keys of the editor / scorer config that tell the launcher how to run the model; they are
# not constructor arguments.
LAUNCH_KEYS = ("placement", "python")


@dataclass(frozen=True)
class Interpreter:
    """Another Python environment for a phase's workers, and its own module search path."""

    executable: str
    sys_path: tuple[str, ...]


@dataclass
class Setup:
    """A validated run: its samples, prompts, devices and model configs."""

    samples: list[Sample]
    protocol: Protocol
    subsets: dict[str, dict[str, Any]]  # the dataset's subsets, reported beside the whole
    edit_devices: list[str]
    score_devices: list[str]
    editor_config: dict[str, Any]  # constructor arguments with _target_
    judge_config: dict[str, Any]
    placement: str  # replica: one judge per device; spread: one judge over all score devices
    editor_python: Interpreter | None  # None: workers run under this interpreter
    judge_python: Interpreter | None
    editor: Editor  # built from editor_config, loaded by no one: for its fingerprint and checks
    judge: Judge

    def plan(self, seed: int, store: Store) -> Plan:
        """Every edit and judgement of the run, keyed under its editor's and judge's
        fingerprints (:func:`~editbench.plan.make_plan`)."""
        return make_plan(
            self.samples,
            self.protocol,
            self.editor.fingerprint(),
            self.judge.fingerprint(),
            seed,
            store,
        )


def validate(cfg: DictConfig) -> Setup:
    """Check the dataset, the judging protocol, the devices and layout, then the model configs.

    Raises :class:`EditbenchError` naming the bad value and what was expected. Loads no
    model; building a missing tiny model into the cache is the only work, once, on the CPU.
    """
    check_run_settings(cfg)
    try:
        samples = instantiate(cfg.dataset)
    except InstantiationException as error:
        # The dataset's own EditbenchError says what is wrong; Hydra's wrapper adds nothing.
        if isinstance(error.__cause__, EditbenchError):
            raise error.__cause__ from None
        raise
    protocol = Protocol.from_config(
        OmegaConf.to_container(cfg.protocol, resolve=True, enum_to_str=True)
    )
    check_protocol(protocol, samples)
    declared = cfg.dataset.get("subsets")
    subsets = {} if declared is None else OmegaConf.to_container(declared, resolve=True)
    edit_devices, score_devices = split_devices(cfg.layout, resolve_devices(cfg.gpus))
    editor, editor_launch = model_config(cfg, "editor")
    editor = cpu_precision(editor, edit_devices)
    judge, judge_launch = model_config(cfg, "scorer")
    placement = judge_launch["placement"]  # typed by JudgeSchema, so one of Placement
    editor_python, judge_python = (
        interpreter(f"{group}.python", launch["python"]) if launch.get("python") else None
        for group, launch in (("editor", editor_launch), ("scorer", judge_launch))
    )
    return Setup(
        samples=samples,
        protocol=protocol,
        subsets=subsets,
        edit_devices=edit_devices,
        score_devices=score_devices,
        editor_config=editor,
        judge_config=judge,
        placement=placement,
        editor_python=editor_python,
        judge_python=judge_python,
        editor=_build("editor", editor),
        judge=_build("scorer", judge),
    )


def check_run_settings(cfg: DictConfig) -> None:
    """The store's folder and the run's own thresholds. The store is checked first: a dataset
    source may keep its images there."""
    root = Path(cfg.store.root).expanduser()
    blocker = next((p for p in (root, *root.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        state = "is a file" if blocker == root else f"lies under {blocker}, which is a file"
        raise EditbenchError(
            f"store.root={cfg.store.root!r} {state}; expected a folder, or a path where one can "
            "be made"
        )
    if cfg.store.max_attempts < 1:
        raise EditbenchError(f"store.max_attempts={cfg.store.max_attempts}; expected at least 1")
    if not 0.0 <= cfg.min_coverage <= 1.0:
        raise EditbenchError(f"min_coverage={cfg.min_coverage}; expected a share from 0 to 1")


def split_devices(layout: DictConfig, devices: list[str]) -> tuple[list[str], list[str]]:
    """The devices that edit and the devices that score, per ``layout`` (its name and load
    order are typed choices of the schema, checked when the config was composed)."""
    if layout.workers_per_device < 1:
        raise EditbenchError(
            f"layout.workers_per_device={layout.workers_per_device}; expected at least 1"
        )
    if layout.cpu_threads is not None and layout.cpu_threads < 1:
        raise EditbenchError(
            f"layout.cpu_threads={layout.cpu_threads}; expected at least 1 or null"
        )
    if layout.name == "shared" or devices == ["cpu"]:
        return devices, devices  # on the CPU, split runs both phases at once on the cores
    if len(devices) < 2:
        raise EditbenchError(
            f"layout=split needs at least 2 devices (one to edit, one to score); got {devices}"
        )
    count = layout.edit_devices if layout.edit_devices is not None else -(-len(devices) // 2)
    if not 1 <= count < len(devices):
        raise EditbenchError(
            f"layout.edit_devices={count}; expected 1 to {len(devices) - 1}"
            f" (the rest of the {len(devices)} devices score)"
        )
    return devices[:count], devices[count:]


def cpu_precision(editor: dict[str, Any], devices: list[str]) -> dict[str, Any]:
    """The editor config, in float32 where it asks for float16 and edits on the CPU: torch has no
    fast float16 kernels there (a tiny InstructPix2Pix step took 8 s in float16 against 0.1 s in
    float32). Said in the log; the edits' fingerprint holds the dtype they are made in."""
    if devices != ["cpu"] or editor.get("dtype") != "float16":
        return editor
    log.warning(
        "editor.dtype=float16 edits on the CPU in float32 (torch's float16 CPU kernels are "
        "slow); on a GPU it is float16"
    )
    return {**editor, "dtype": "float32"}


def interpreter(key: str, python: str) -> Interpreter:
    """Check that ``python`` exists and imports editbench (or its workers would die at
    start-up), and read its module search path."""
    if not Path(python).is_file():
        raise EditbenchError(f"{key}={python!r}: no such interpreter; expected a path to python")
    probe = subprocess.run(
        [python, "-c", "import editbench, json, sys; print(json.dumps(sys.path))"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",  # so that an editbench checkout in the working directory does not count
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        raise EditbenchError(
            f"{key}={python!r} cannot import editbench ({last}); install editbench into that"
            " environment (pip install -e <this repository>)"
        )
    search_path = json.loads(probe.stdout.strip().splitlines()[-1])
    return Interpreter(python, tuple(p for p in search_path if p))  # "" is the probe's cwd


def model_config(cfg: DictConfig, group: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The resolved ``editor`` or ``scorer`` config, split into constructor arguments (with
    ``_target_``) and the keys the launcher reads (``placement``, ``python``). Plain data: a
    choice is its string (``"expected"``), as the constructors, fingerprints and workers take it."""
    try:
        config = OmegaConf.to_container(
            cfg[group], resolve=True, throw_on_missing=True, enum_to_str=True
        )
    except MissingMandatoryValue as error:
        raise EditbenchError(f"{error.full_key} has no value; set {error.full_key}=...") from None
    launch = {key: config.pop(key) for key in LAUNCH_KEYS if key in config}
    return config, launch


def _build(group: str, config: dict[str, Any]) -> Any:
    """Instantiate an editor or judge: cheap, constructors only check their arguments."""
    try:
        # _convert_="all": plain dicts and lists, never OmegaConf nodes, reach the constructor,
        # so that settings (editor.call, editor.step_cache) serialise into the fingerprint.
        return instantiate(config, _convert_="all")
    except Exception as error:
        cause = error.__cause__ or error
        raise EditbenchError(f"{group} config ({config.get('_target_')}): {cause}") from None
