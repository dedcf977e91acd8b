"""Typed schemas for every config group, registered in Hydra's ConfigStore.

A misspelt or missing key fails at compose time with the key's name: the top-level schema
types the fixed groups, and each editor / scorer option pulls its own schema in through its
defaults list (``defaults: [diffusers_schema, _self_]``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class DiffusersEditorSchema:
    _target_: str = "editbench.editors.diffusers_editor.DiffusersEditor"
    model: str = MISSING  # hub id or local folder
    pipeline: str = "QwenImageEditPipeline"
    revision: str | None = None
    dtype: str = "bfloat16"
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
class Qwen3VLJudgeSchema:
    _target_: str = "editbench.judges.qwen3_vl.Qwen3VLJudge"
    model: str = MISSING  # hub id or local folder
    revision: str | None = None
    dtype: str = "bfloat16"
    score_mode: str = "expected"  # generate | expected
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
    max_pixels: int | None = None
    # Repeated judging: judge samples per edit, drawn at this temperature with a seed per
    # sample, reduced by mean or median. temperature 0 is greedy (then one sample is enough).
    num_samples: int = 1
    temperature: float = 0.0
    reduce: str = "mean"
    # Read by the launcher, not passed to the judge: one replica per device, or one judge
    # spread over all the layout's devices with device_map.
    placement: str = "replica"  # replica | spread
    python: str | None = None  # as for the editor


@dataclass
class OpenAIJudgeSchema:
    _target_: str = "editbench.judges.openai_api.OpenAIJudge"
    base_url: str = MISSING  # e.g. http://127.0.0.1:8000/v1 (vLLM, SGLang, transformers serve)
    model: str = MISSING
    api_key_env: str | None = "OPENAI_API_KEY"  # the variable holding the key; never logged
    score_mode: str = "generate"  # generate | expected (needs logprobs from the server)
    batch_size: int = 16  # requests handed to one worker at a time
    max_concurrency: int = 8
    timeout_s: float = 120.0
    max_retries: int = 5
    max_tokens: int = 512
    top_logprobs: int = 20
    num_samples: int = 1
    temperature: float = 0.0
    reduce: str = "mean"
    max_pixels: int | None = None  # downscale images before sending them
    # Read by the launcher: an API judge needs no device, one worker sends every request.
    placement: str = "single"
    python: str | None = None


@dataclass
class PromptSchema:
    system_prompt: str = MISSING
    user_prompt_template: str = MISSING
    score_prefix: str = "Score:"
    reasoning_first: bool = False
    # A rubric: the named scores the reply gives as JSON, each with its group (SC: semantic
    # consistency, PQ: perceptual quality, ...), and how they combine into one score:
    # mean | min | geometric_mean | viescore (sqrt(min(SC) * min(PQ))).
    criteria: dict[str, str] | None = None
    combine: str = "mean"


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
    name: str = "shared"
    edit_devices: int | None = None  # split only; None: half of the devices, rounded up
    workers_per_device: int = 1
    load: str = "parallel"  # parallel | serial: stagger model loads to bound host memory
    # torch threads of each CPU worker; None: the cores shared among the workers running at
    # once. CPU results are bit-identical only for equal thread counts (reduction order).
    cpu_threads: int | None = None


@dataclass
class StoreSchema:
    root: str = "outputs/store"


@dataclass
class TrackingSchema:
    _target_: str = "editbench.results.tracking.MlflowTracker"
    uri: str | None = "sqlite:///outputs/mlflow.db"
    experiment: str = "editbench"
    artifact_root: str | None = "outputs/mlartifacts"


@dataclass
class Config:
    editor: Any = MISSING
    scorer: Any = MISSING
    prompts: PromptsSchema = field(default_factory=PromptsSchema)
    dataset: DatasetSchema = field(default_factory=DatasetSchema)
    layout: LayoutSchema = field(default_factory=LayoutSchema)
    store: StoreSchema = field(default_factory=StoreSchema)
    tracking: TrackingSchema = field(default_factory=TrackingSchema)
    # Devices: a count (gpus=6), "auto" (every visible GPU), "cpu", or a list of device ids.
    gpus: Any = "auto"
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
