"""What editbench needs to know of a diffusers pipeline class, read from the class itself: the
keywords its ``__call__`` takes, where its input images go, whether it reports steps, and
whether it has a transformer to compile. Nothing here loads a model."""

from __future__ import annotations

import difflib
import inspect
import math
from dataclasses import dataclass
from typing import Any

# The parameter that takes the input image(s), by the names pipelines give it, in order.
IMAGE_PARAMETERS = ("image", "images", "input_images")
# Pipelines whose image parameter takes several images as separate inputs (a list), in the
# order the sample gives them: the Plus and FLUX.2 families read each as a reference.
MULTI_IMAGE_PIPELINES = frozenset(
    {
        "QwenImageEditPlusPipeline",
        "Flux2Pipeline",
        "Flux2KleinPipeline",
        "JoyImageEditPlusPipeline",
        "OmniGenPipeline",
    }
)
# Pipelines whose prompt names each input image with a tag ({n}: its number from 1), put before
# the instruction: OmniGen's "<img><|image_1|></img>" (a prompt without it is refused).
PROMPT_IMAGE_TAGS = {"OmniGenPipeline": "<img><|image_{n}|></img>"}
# Keywords editbench sets itself on every call: the images, the prompt, the seeded generator,
# the progress callback, and one PIL image out.
SET_BY_EDITBENCH = frozenset(
    {
        *IMAGE_PARAMETERS,
        "prompt",
        "generator",
        "callback_on_step_end",
        "callback_on_step_end_tensor_inputs",
        "callback",
        "callback_steps",
        "output_type",
        "return_dict",
        "num_images_per_prompt",
        "latents",
    }
)


@dataclass(frozen=True)
class PipelineInfo:
    """A pipeline class's calling convention."""

    name: str
    settings: frozenset[str]  # the keywords a preset or user may set under editor.call
    defaults: dict[str, Any]  # each setting's default in the signature, where it has one
    image_parameter: str
    takes_several_images: bool
    reports_steps: bool  # __call__ takes callback_on_step_end
    has_transformer: bool  # its denoiser is a transformer (else a UNet)
    # Its __call__ names the transformer's cache context per pass ("cond", "uncond"), without
    # which diffusers' step caches would mix the two passes' states.
    sets_cache_context: bool = False
    image_tag: str | None = None  # the tag naming each input image in the prompt, if any

    def prompt(self, instruction: str, images: int) -> str:
        """The prompt of an instruction for ``images`` input images."""
        if self.image_tag is None:
            return instruction
        tags = " ".join(self.image_tag.replace("{n}", str(n)) for n in range(1, images + 1))
        return f"{tags} {instruction}"


def pipeline_info(name: str) -> PipelineInfo:
    """The calling convention of the diffusers pipeline class ``name``.

    Raises ``ValueError`` naming the class when diffusers has no such pipeline (with the
    closest names), or when it has no input image parameter (not an editing pipeline).
    """
    pipeline_class = pipeline_class_of(name)
    parameters = inspect.signature(pipeline_class.__call__).parameters
    # A **kwargs pipeline swallows any keyword: only its explicit parameters are settings.
    explicit = {
        key
        for key, parameter in parameters.items()
        if key != "self"
        and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
    }
    image_parameter = next((key for key in IMAGE_PARAMETERS if key in explicit), None)
    if image_parameter is None:
        raise ValueError(
            f"pipeline {name!r} takes no input image (none of {', '.join(IMAGE_PARAMETERS)} in "
            "its __call__); expected an instruction-editing pipeline"
        )
    components = inspect.signature(pipeline_class.__init__).parameters
    settings = frozenset(explicit - SET_BY_EDITBENCH)
    return PipelineInfo(
        name=name,
        settings=settings,
        defaults={
            key: parameters[key].default
            for key in settings
            if parameters[key].default is not inspect.Parameter.empty
        },
        image_parameter=image_parameter,
        takes_several_images=name in MULTI_IMAGE_PIPELINES,
        reports_steps="callback_on_step_end" in explicit,
        has_transformer="transformer" in components,
        sets_cache_context="cache_context(" in inspect.getsource(pipeline_class.__call__),
        image_tag=PROMPT_IMAGE_TAGS.get(name),
    )


def pipeline_class_of(name: str) -> Any:
    """The diffusers pipeline class ``name``; ``ValueError`` with the closest names if none."""
    import diffusers  # imported here: heavy, and needed only where a pipeline is named

    found = getattr(diffusers, name, None) if name.isidentifier() else None
    if not (isinstance(found, type) and issubclass(found, diffusers.DiffusionPipeline)):
        known = [n for n in dir(diffusers) if n.endswith("Pipeline")]
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(
            f"pipeline {name!r} is not a diffusers pipeline class (diffusers "
            f"{diffusers.__version__}){hint}"
        )
    return found


def check_call_settings(info: PipelineInfo, call: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming every setting of ``call`` the pipeline does not take, that
    editbench sets itself (listing those it takes), of another type than the pipeline's
    default, or of a value no edit can be made with: steps under 1, a number that is NaN or
    infinite."""
    ours = sorted(key for key in call if key in SET_BY_EDITBENCH)
    unknown = sorted(key for key in call if key not in info.settings and key not in ours)
    problems = []
    if unknown:
        problems.append(
            f"{', '.join(f'editor.call.{key}' for key in unknown)}: {info.name}.__call__ takes "
            f"no such setting; it takes: {', '.join(sorted(info.settings))}"
        )
    if ours:
        problems.append(
            f"{', '.join(f'editor.call.{key}' for key in ours)}: set by editbench on every call "
            "(the sample's images and instruction, the seeded generator, progress, one image "
            "out); expected none of them under editor.call"
        )
    for key in sorted(set(call) & info.settings):
        value = call[key]
        expected = _plain_type(info.defaults.get(key))
        if expected is not None and not _is_a(value, expected):
            problems.append(
                f"editor.call.{key}={value!r}: expected {expected.__name__}, as "
                f"{info.name}'s default {info.defaults[key]!r}"
            )
        elif key == "num_inference_steps" and not (_is_a(value, int) and value >= 1):
            # 0 would fail only once the model has loaded, dividing by zero in the scheduler.
            problems.append(f"editor.call.{key}={value!r}; expected an integer of at least 1")
        elif isinstance(value, float) and not math.isfinite(value):
            # A NaN or infinite guidance scale or strength makes every edit NaN.
            problems.append(f"editor.call.{key}={value!r}; expected a finite number")
    if problems:
        raise ValueError("; ".join(problems))


def _plain_type(default: Any) -> type | None:
    """The type a setting must have, read from a plain default (None where it says nothing:
    a None default, or a structured one)."""
    for kind in (bool, int, float, str):
        if type(default) is kind:
            return kind
    return None


def _is_a(value: Any, expected: type) -> bool:
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)
