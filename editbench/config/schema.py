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
    Fp8,
    Headline,
    ImageRole,
    LayoutName,
    LoadOrder,
    Placement,
    Reduction,
    ReplyFormat,
    ScoreMode,
)
from editbench.records import DEFAULT_COMBINE, DEFAULT_SCORE_PREFIX
from editbench.results.tracking import DEFAULT_ARTIFACT_ROOT, DEFAULT_TRACKING_URI


@dataclass
class DiffusersEditorSchema:
    _target_: str = "editbench.editors.diffusers_editor.DiffusersEditor"
    model: str = MISSING  # hub id or local folder
    pipeline: str = "QwenImageEditPipeline"  # any diffusers instruction-editing pipeline class
    revision: str | None = None
    dtype: Dtype = Dtype.bfloat16
    # The keywords passed to the pipeline's __call__, these and no others: checked against its
    # signature before any model loads, and part of every edit's fingerprint.
    call: dict[str, Any] = field(default_factory=dict)
    # Resize each input image so that its long side is this many pixels and each side a
    # multiple of 64, as InstructPix2Pix's edit_cli.py does; None: the image as it is.
    input_long_side: int | None = None
    # torch.compile the transformer's repeated blocks: the first edits pay for compiling,
    # later ones run faster; part of the fingerprint (compiled kernels may round differently).
    compile: bool = False
    # Speed-ups that change the pixels, keyed in the fingerprint (editbench/editors/speedups.py):
    # a step cache, {method: taylorseer|first_block, <its options>}, and FP8 weights. Any, not
    # dict | None: OmegaConf 2.3 cannot merge a command line's mapping into a typed None; the
    # editor checks it, before any model loads.
    step_cache: Any = None
    fp8: Fp8 | None = None
    # Read by the launcher: run this phase's workers under another interpreter (a venv or
    # conda env with editbench installed and the libraries this model needs).
    python: str | None = None
    # Moved under call (editor.call.num_inference_steps ...); setting one says where it went.
    num_inference_steps: Any = None
    true_cfg_scale: Any = None
    negative_prompt: Any = None
    height: Any = None
    width: Any = None


@dataclass
class PrecomputedEditorSchema:
    _target_: str = "editbench.editors.precomputed.PrecomputedEditor"
    root: str = MISSING  # folder of edited images named <sample id>.<png|jpg|jpeg|webp>
    # The edit's path under root from the sample's fields, as a benchmark releases its edits,
    # e.g. "{task_type}/{instruction_language}/{key}.png"; None: <root>/<sample id>.<ext>.
    pattern: str | None = None
    python: str | None = None


@dataclass
class CustomEditorSchema:
    """Your own editor class: editor=custom editor._target_=mypkg.MyEditor, and its
    constructor's arguments as +editor.<name>=<value> (docs/editors.md)."""

    _target_: str = MISSING
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
    # torch.compile the language model's layers and the vision tower's blocks: the first
    # batches pay for compiling (102 s for the 30B-A3B), the rest of a run's expected-mode
    # scoring runs faster (1.47x the bare forward on an H200); keyed in the fingerprint.
    compile: bool = False


@dataclass
class PriceSchema:
    """What an API judge's tokens cost per million, for the run's cost report: both prices, or
    neither (then the run reports tokens and no money). No part of a judgement's key: a price
    changes what a verdict costs, not what it is."""

    prompt_per_million: float | None = None
    completion_per_million: float | None = None
    currency: str = "USD"


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
    # A node, not null, so that the command line can set its keys (scorer.price.
    # prompt_per_million=2.0 scorer.price.completion_per_million=8.0): OmegaConf cannot merge
    # keys into a null node.
    price: PriceSchema = field(default_factory=PriceSchema)


@dataclass
class PromptSchema:
    """One judge prompt and how its reply is read (see editbench/prompts.py)."""

    # None: no system message (the published protocols send the whole prompt as the user's)
    system_prompt: str | None = None
    user_prompt_template: str = MISSING
    # Send the template as written, placeholders and double braces included: a published
    # prompt its own code never fills in (KRIS-Bench's quality prompt).
    literal: bool = False
    # What the reply gives: one score, or named scores (criteria) as a JSON object, a
    # {"score": [...]} list or "Name: k" lines; each number on this scale.
    reply: ReplyFormat = ReplyFormat.score
    scale: list[float] = field(default_factory=lambda: [0.0, 10.0])
    score_prefix: str = DEFAULT_SCORE_PREFIX
    reasoning_first: bool = False
    # Named scores: each name (a JSON key, the list's positions in order, a line's name) with
    # its group (SC: semantic consistency, PQ: perceptual quality, ...), and how they combine
    # into the prompt's one score: mean | min | geometric_mean | viescore | weighted.
    criteria: dict[str, str] | None = None
    combine: Combination = Combination(DEFAULT_COMBINE)  # noqa: RUF009 (a member, immutable)
    # This prompt's own images and captions, where they differ from its call's.
    images: list[ImageRole] | None = None
    labels: dict[str, str] | None = None


@dataclass
class CallSchema:
    """One judge call a protocol makes per sample."""

    # The images shown, in this order: source (every input image), edit, reference.
    images: list[ImageRole] = field(default_factory=lambda: [ImageRole.source, ImageRole.edit])
    text_first: bool = False  # the prompt's text before the images (else after them)
    # A caption before each image of a role (source, edit, reference); "{n}" in a source's
    # caption is its number (1, 2, ...). None: no captions.
    labels: dict[str, str] | None = None
    # Resize the edit to the first source image's size before the judge sees it (VIEScore).
    resize_edit_to_source: bool = False
    # The sample field whose value picks the prompt: the category, or a field a benchmark's
    # source sets (its judging variant).
    prompt_key: str = "category"
    # The prompt of a key without one in `prompts`; None: every key needs its own.
    prompt: PromptSchema | None = None
    prompts: dict[str, PromptSchema] = field(default_factory=dict)
    # The call is not made for a sample whose prompt key is in skip_for, or whose field
    # skip_if is true (e.g. RISEBench's consistency_free).
    skip_for: list[str] = field(default_factory=list)
    skip_if: str | None = None
    # Where the protocol makes several calls, report this call's score as a criterion under
    # the call's name (VIEScore's SC and PQ); false where its named scores say it all.
    report_score: bool = True


@dataclass
class ProtocolSchema:
    """A benchmark's judging protocol: its calls, how their scores make a sample's score, and
    which overall figure the benchmark publishes."""

    name: str = MISSING
    calls: dict[str, CallSchema] = MISSING
    combine: Combination = Combination(DEFAULT_COMBINE)  # noqa: RUF009 (a member, immutable)
    weights: dict[str, float] | None = None  # combine=weighted: each call's weight
    # Also report, per sample, 1 when every call's score is the top of its scale, else 0
    # (RISEBench's accuracy), under this name; None: not reported.
    all_max_as: str | None = None
    # The sample's score is that all-max indicator (RISEBench ranks by accuracy); the calls'
    # combination is then reported as a criterion named after the combination.
    score_is_all_max: bool = False
    # Map every score from its prompt's scale onto this range (KRIS-Bench and RISEBench report
    # 1-5 as 0-100); None: scores stay on their prompts' scales.
    rescale_to: list[float] | None = None
    headline: Headline = Headline.mean_of_categories


@dataclass
class DatasetSchema:
    """What every dataset source takes besides its own location and layout."""

    _target_: str = MISSING
    _convert_: str = "all"  # plain lists and dicts for the source, not OmegaConf's containers
    categories: list[str] | None = None  # None: every category
    # Keep the samples whose fields have these values, e.g. {instruction_language: en}.
    where: dict[str, Any] | None = None
    limit: int | None = None
    # "i/N": this run takes part i of N (by a hash of the sample id, independent of order)
    shard: str | None = None
    # Results are also reported for these subsets, each a filter like `where`.
    subsets: dict[str, dict[str, Any]] | None = None


@dataclass
class ManifestDatasetSchema(DatasetSchema):
    _target_: str = "editbench.sources.manifest.load_manifest"
    root: str = MISSING  # folder holding manifest.jsonl


@dataclass
class ImgEditDatasetSchema(DatasetSchema):
    _target_: str = "editbench.sources.imgedit.load_imgedit"
    root: str = MISSING  # folder holding the annotations and the extracted benchmark archive
    annotations: str = "basic_edit.json"  # key -> {id, prompt, edit_type}
    images: str = "Benchmark/singleturn"  # the folder the annotations' ids are relative to


@dataclass
class KrisDatasetSchema(DatasetSchema):
    _target_: str = "editbench.sources.kris.load_kris"
    root: str = MISSING  # the KRIS_Bench folder: one folder per category with annotation.json


@dataclass
class RiseDatasetSchema(DatasetSchema):
    _target_: str = "editbench.sources.rise.load_rise"
    root: str = MISSING  # folder holding the annotations and the images they name
    annotations: str = "datav2_total_w_subtask.json"
    images: str = "data"  # the folder the annotations' image paths are relative to


@dataclass
class HFColumnsSchema:
    """Which column holds each of a sample's fields."""

    id: Any = "id"  # a column, or a list of them joined by "/" (e.g. [key, instruction_language])
    category: str = "category"
    instruction: str = "instruction"
    images: list[str] = field(default_factory=lambda: ["image"])  # image columns, in order
    reference_image: str | None = None
    reference_text: str | None = None
    # Other columns kept in the sample's extra fields; None: every column not mapped above
    # that holds no image.
    extra: list[str] | None = None


@dataclass
class HFDatasetSchema(DatasetSchema):
    _target_: str = "editbench.sources.hf.load_hf"
    # A hub id (then `revision` pins the commit) or a local folder laid out like the hub
    # repository (data/*.parquet, or a datasets.save_to_disk folder).
    path: str = MISSING
    revision: str | None = None
    name: str | None = None  # the dataset's configuration, where it has several
    split: str = "train"
    columns: HFColumnsSchema = field(default_factory=HFColumnsSchema)
    # Image columns are written here once, each file named by its content's hash.
    image_cache: str = "${store.root}/dataset_images"


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
    # An edit or judgement that failed on its sample alone (edit_error, judge_error) is tried
    # again by later runs until it has been tried this many times in all.
    max_attempts: int = 3


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
    # Per-category prompts of the editbench protocol (prompts/<category>=<version>).
    prompts: dict[str, PromptSchema] = field(default_factory=dict)
    protocol: ProtocolSchema = MISSING
    # Every source's schema extends DatasetSchema; each dataset option pulls its own in.
    dataset: DatasetSchema = MISSING
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
    # The run exits non-zero (after writing and logging everything) when it judged no sample,
    # or fewer than this share of them: a broken judge or editor is not a result.
    min_coverage: float = 0.5


def register_schemas() -> None:
    cs = ConfigStore.instance()
    cs.store(name="config_schema", node=Config)
    cs.store(group="schema/editor", name="diffusers", node=DiffusersEditorSchema)
    cs.store(group="schema/editor", name="precomputed", node=PrecomputedEditorSchema)
    cs.store(group="schema/editor", name="custom", node=CustomEditorSchema)
    cs.store(group="schema/scorer", name="qwen3_vl", node=Qwen3VLJudgeSchema)
    cs.store(group="schema/scorer", name="openai_api", node=OpenAIJudgeSchema)
    cs.store(group="schema", name="protocol", node=ProtocolSchema)
    cs.store(group="schema/dataset", name="manifest", node=ManifestDatasetSchema)
    cs.store(group="schema/dataset", name="hf", node=HFDatasetSchema)
    cs.store(group="schema/dataset", name="imgedit", node=ImgEditDatasetSchema)
    cs.store(group="schema/dataset", name="kris", node=KrisDatasetSchema)
    cs.store(group="schema/dataset", name="rise", node=RiseDatasetSchema)
