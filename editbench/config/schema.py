"""Typed schemas for every config group, registered in Hydra's ConfigStore.

A misspelt or missing key fails at compose time with the key's name: the top-level schema
types the fixed groups, and each editor / scorer option pulls its own schema in through its
defaults list (``defaults: [/schema/editor/diffusers@_here_, _self_]``). A choice is a
:class:`~editbench.judges.settings.Choice` enum, so a value outside it fails at compose time
too, naming the key and the allowed values; its members are the strings themselves, and
``OmegaConf.to_container(..., enum_to_str=True)`` makes them plain ``str`` where the config
becomes data. The defaults here are the only ones: an option's YAML file holds what differs
from them (tests/test_config.py checks that it repeats none).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from editbench.choices import (
    Combination,
    Dtype,
    LayoutName,
    LoadOrder,
    Placement,
    Reduction,
    ScoreMode,
)
from editbench.records import DEFAULT_COMBINE, DEFAULT_SCORE_PREFIX
from editbench.results.tracking import DEFAULT_ARTIFACT_ROOT, DEFAULT_TRACKING_URI


@dataclass
class DiffusersEditorSchema:
    _target_: str = "editbench.editors.diffusers_editor.DiffusersEditor"
    model: str = MISSING  # hub id or local folder
    pipeline: str = "QwenImageEditPipeline"
    revision: str | None = None
    dtype: Dtype = Dtype.bfloat16
    num_inference_steps: int = 50
    true_cfg_scale: float = 4.0
    negative_prompt: str = " "
    height: int | None = None
    width: int | None = None
    # torch.compile the transformer's repeated blocks: the first edits pay for compiling,
    # later ones run faster; part of the fingerprint (compiled kernels may round differently).
    compile: bool = False
    # Read by the launcher: run this phase's workers under another interpreter (a venv or
    # conda env with editbench installed and the libraries this model needs).
    python: str | None = None


@dataclass
class PrecomputedEditorSchema:
    _target_: str = "editbench.editors.precomputed.PrecomputedEditor"
    root: str = MISSING  # folder of edited images named <sample id>.<png|jpg|jpeg|webp>
    python: str | None = None


@dataclass
class JudgeSchema:
    """What every judge's config holds. Each judge's schema adds its own settings and sets the
    defaults that differ: its target, and the score mode and placement where they differ."""

    _target_: str = MISSING
    model: str = MISSING  # hub id or local folder; for an API judge, the name the server serves
    score_mode: ScoreMode = ScoreMode.generate
    # Repeated judging: judge samples per edit, drawn at this temperature with a seed per
    # sample, reduced by mean or median. temperature 0 is greedy (then one sample is enough).
    num_samples: int = 1
    temperature: float = 0.0
    reduce: Reduction = Reduction.mean
    # Images are downscaled to at most this many pixels before the judge sees them; None: the
    # local judge keeps its checkpoint's own bound, an API judge sends them as they are.
    max_pixels: int | None = None
    # Read by the launcher, not passed to the judge: one replica per device, one judge spread
    # over all the layout's score devices with device_map, or a single worker with no device
    # of its own (a judge behind an API).
    placement: Placement = Placement.replica
    python: str | None = None  # as for the editor


@dataclass
class Qwen3VLJudgeSchema(JudgeSchema):
    _target_: str = "editbench.judges.qwen3_vl.Qwen3VLJudge"
    score_mode: ScoreMode = ScoreMode.expected
    revision: str | None = None
    dtype: Dtype = Dtype.bfloat16
    # Requests per forward: a number, or "auto" (from the free memory the first requests
    # leave, at most max_batch_size; 0.8x if a larger request later runs out of memory).
    batch_size: Any = "auto"
    max_batch_size: int = 64
    # Processes that decode and preprocess the next batch while the GPU judges this one;
    # None: one for a GPU judge, none (a thread) on the CPU.
    prepare_processes: int | None = None
    max_new_tokens: int = 512
    attn_implementation: str = "sdpa"
    min_pixels: int | None = None


@dataclass
class OpenAIJudgeSchema(JudgeSchema):
    """A judge behind an OpenAI-compatible endpoint; score_mode=expected needs logprobs."""

    _target_: str = "editbench.judges.openai_api.OpenAIJudge"
    placement: Placement = Placement.single  # one worker sends every request
    base_url: str = MISSING  # e.g. http://127.0.0.1:8000/v1 (vLLM, SGLang, transformers serve)
    api_key_env: str | None = "OPENAI_API_KEY"  # the variable holding the key; never logged
    batch_size: int = 16  # requests handed to one worker at a time
    max_concurrency: int = 8
    timeout_s: float = 120.0
    max_retries: int = 5
    max_tokens: int = 512
    top_logprobs: int = 20


@dataclass
class PromptSchema:
    system_prompt: str = MISSING
    user_prompt_template: str = MISSING
    score_prefix: str = DEFAULT_SCORE_PREFIX
    reasoning_first: bool = False
    # A rubric: the named scores the reply gives as JSON, each with its group (SC: semantic
    # consistency, PQ: perceptual quality, ...), and how they combine into one score:
    # mean | min | geometric_mean | viescore (sqrt(min(SC) * min(PQ))).
    criteria: dict[str, str] | None = None
    combine: Combination = Combination(DEFAULT_COMBINE)  # noqa: RUF009 (a member, immutable)


@dataclass
class PromptsSchema:
    physical: PromptSchema = MISSING
    environment: PromptSchema = MISSING
    social: PromptSchema = MISSING
    causal: PromptSchema = MISSING
    referential: PromptSchema = MISSING


@dataclass
class DatasetSchema:
    _target_: str = "editbench.dataset.load_samples"
    root: str = MISSING  # folder holding manifest.jsonl
    categories: list[str] | None = None  # None: every category
    limit: int | None = None
    # "i/N": this run takes part i of N (by a hash of the sample id, independent of order)
    shard: str | None = None


@dataclass
class LayoutSchema:
    # shared: every device edits, then every device scores (each model has the whole GPU);
    # split: the first `edit_devices` devices edit while the others score, at the same time.
    name: LayoutName = LayoutName.shared
    # split only: how many of the devices edit (the first ones); None: half, rounded up
    edit_devices: int | None = None
    workers_per_device: int = 1
    load: LoadOrder = LoadOrder.parallel
    # torch threads of each CPU worker; None: the cores shared among the workers running at
    # once. CPU results are bit-identical only for equal thread counts (reduction order).
    cpu_threads: int | None = None


@dataclass
class StoreSchema:
    root: str = "outputs/store"


@dataclass
class TrackingSchema:
    _target_: str = "editbench.results.tracking.MlflowTracker"
    uri: str | None = DEFAULT_TRACKING_URI
    experiment: str = "editbench"
    artifact_root: str | None = DEFAULT_ARTIFACT_ROOT


@dataclass
class Config:
    editor: Any = MISSING
    # Every judge's schema extends JudgeSchema, so the settings the launcher reads (placement,
    # python) and the shared choices are typed whichever judge is chosen.
    scorer: JudgeSchema = MISSING
    prompts: PromptsSchema = field(default_factory=PromptsSchema)
    dataset: DatasetSchema = field(default_factory=DatasetSchema)
    layout: LayoutSchema = field(default_factory=LayoutSchema)
    store: StoreSchema = field(default_factory=StoreSchema)
    tracking: TrackingSchema = field(default_factory=TrackingSchema)
    # Devices: a count (gpus=6), "auto" (every visible GPU), "cpu", or a list of device ids
    # (gpus=[0,2]).
    gpus: Any = "auto"
    # Per-sample seeds derive from this and the sample id: an edit is the same on any device
    # count.
    seed: int = 0
    bootstrap_samples: int = 1000
    # Validate, plan and render every judge conversation into the run folder; load no model.
    dry_run: bool = False


def register_schemas() -> None:
    cs = ConfigStore.instance()
    cs.store(name="config_schema", node=Config)
    cs.store(group="schema/editor", name="diffusers", node=DiffusersEditorSchema)
    cs.store(group="schema/editor", name="precomputed", node=PrecomputedEditorSchema)
    cs.store(group="schema/scorer", name="qwen3_vl", node=Qwen3VLJudgeSchema)
    cs.store(group="schema/scorer", name="openai_api", node=OpenAIJudgeSchema)
