"""An editor over any diffusers instruction-editing pipeline: Qwen-Image-Edit, FLUX.1 Kontext,
InstructPix2Pix, LongCat-Image-Edit, FLUX.2 and the others diffusers ships."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from editbench.choices import Dtype
from editbench.editors.base import Editor
from editbench.editors.pipelines import check_call_settings, pipeline_info
from editbench.editors.real_rope import use_real_rotary_embedding
from editbench.editors.speedups import check_fp8, step_cache_config, use_fp8
from editbench.errors import EditbenchError, SampleError
from editbench.images import open_rgb, size_problem
from editbench.records import EditRequest

# The call settings the first version of this editor set itself, as editor.<name>: now under
# editor.call. The version-1 fingerprint named all five (see DiffusersEditor.settings).
MOVED_TO_CALL = ("num_inference_steps", "true_cfg_scale", "negative_prompt", "height", "width")
_QWEN_PIPELINES = ("QwenImageEditPipeline", "QwenImageEditPlusPipeline")


class DiffusersEditor(Editor):
    """Edits with a diffusers pipeline, named by its class, loaded by hub id or local path, one
    request at a time.

    ``call`` holds the keywords passed to the pipeline's ``__call__``, exactly those and no
    others: a preset's reference settings and the user's. A keyword the pipeline does not take
    is refused when the editor is built, before any model loads (a pipeline with ``**kwargs``
    takes only its explicit parameters). The pipeline gets the sample's input image, or all of
    them where it takes several, the instruction as its prompt, and a generator seeded per
    sample.

    ``step_callback`` (see :class:`Editor`) hears every denoising step of every request where
    the pipeline has ``callback_on_step_end``; ``step`` counts from 1.

    ``compile`` compiles the transformer's repeated blocks with ``torch.compile`` (diffusers'
    regional compilation): the first edits pay for the compilation, later ones run faster. A
    UNet pipeline has no transformer to compile, and is refused.

    ``step_cache`` (``{"method": "taylorseer", "cache_interval": 5}``, say) and ``fp8``
    (``"storage"`` or ``"matmul"``) trade the exact edit for speed or memory
    (:mod:`editbench.editors.speedups`); both apply to the transformer, so a UNet pipeline, or
    one whose passes name no cache context, is refused.
    """

    name = "diffusers"
    version = 1

    def __init__(
        self,
        model: str,
        pipeline: str = "QwenImageEditPipeline",
        revision: str | None = None,
        dtype: str = "bfloat16",
        call: Mapping[str, Any] | None = None,
        input_long_side: int | None = None,
        compile: bool = False,
        step_cache: Mapping[str, Any] | None = None,
        fp8: str | None = None,
        **moved: Any,
    ) -> None:
        given = {key: value for key, value in moved.items() if value is not None}
        unknown = sorted(set(given) - set(MOVED_TO_CALL))
        if unknown:
            raise TypeError(f"DiffusersEditor got unexpected keyword arguments {unknown}")
        if given:
            raise ValueError(
                "the pipeline's settings are under editor.call now: "
                + ", ".join(f"editor.{key} -> editor.call.{key}" for key in sorted(given))
            )
        if input_long_side is not None and (
            isinstance(input_long_side, bool)
            or not isinstance(input_long_side, int)
            or input_long_side < 64
        ):
            raise ValueError(
                f"editor.input_long_side={input_long_side!r}; expected a number of pixels of at "
                "least 64, or null"
            )
        if dtype not in Dtype.values():
            raise ValueError(f"Unsupported dtype {dtype!r}. Supported dtypes: {Dtype.values()}")
        self.info = pipeline_info(pipeline)
        self.call = dict(call or {})
        check_call_settings(self.info, self.call)
        if compile and not self.info.has_transformer:
            raise ValueError(
                f"editor.compile compiles a transformer's repeated blocks; {pipeline} denoises "
                "with a UNet; expected editor.compile=false"
            )
        for option, value in (("step_cache", step_cache), ("fp8", fp8)):
            if value is not None and not self.info.has_transformer:
                raise ValueError(
                    f"editor.{option} speeds up a transformer; {pipeline} denoises with a UNet; "
                    f"expected editor.{option}=null"
                )
        self._step_cache_config = None
        if step_cache is not None:
            self._step_cache_config = step_cache_config(step_cache)
            if not self.info.sets_cache_context:
                raise ValueError(
                    f"editor.step_cache: {pipeline} does not name its transformer's passes "
                    "(cache_context), so a step cache would mix their states; expected "
                    "editor.step_cache=null"
                )
        self.step_cache = None if step_cache is None else dict(step_cache)
        check_fp8(fp8)
        self.fp8 = None if fp8 is None else str(fp8)
        self.model = model
        self.pipeline = pipeline
        self.revision = revision
        self.dtype = dtype
        self.input_long_side = input_long_side
        self.compile = compile
        self._pipe: Any = None

    def settings(self) -> dict[str, Any]:
        """Model, pipeline, revision, dtype, every call setting, and ``compile`` (compiled
        kernels may round differently, so they may change pixels); ``step_cache`` and ``fp8``
        where set.

        A Qwen-Image-Edit call that the first version of this editor could make (it always set
        the steps, true CFG scale and negative prompt, and height and width or none) keeps that
        version's fingerprint, so the edits of stores written by it are reused.
        """
        legacy = self._version_one_settings()
        if legacy is not None:
            return legacy
        settings = {
            "model": self.model,
            "pipeline": self.pipeline,
            "revision": self.revision,
            "dtype": self.dtype,
            "call": self.call,
            "compile": self.compile,
        }
        # Set only where used, so that the exact editor's fingerprint is what it always was.
        optional = {
            "input_long_side": self.input_long_side,
            "step_cache": self.step_cache,
            "fp8": self.fp8,
        }
        settings.update({key: value for key, value in optional.items() if value is not None})
        return settings

    def _version_one_settings(self) -> dict[str, Any] | None:
        if self.pipeline not in _QWEN_PIPELINES or any(
            value is not None for value in (self.input_long_side, self.step_cache, self.fp8)
        ):
            return None
        always = ("num_inference_steps", "true_cfg_scale", "negative_prompt")
        if not set(always) <= set(self.call) or not set(self.call) <= set(MOVED_TO_CALL):
            return None
        return {
            "model": self.model,
            "pipeline": self.pipeline,
            "revision": self.revision,
            "dtype": self.dtype,
            **{key: self.call.get(key) for key in MOVED_TO_CALL},
            "compile": self.compile,
        }

    def check(self, requests: Sequence[EditRequest]) -> None:
        """Raise :class:`EditbenchError` listing the samples with several input images when the
        pipeline edits one: it would see only the first."""
        several = [r.sample_id for r in requests if len(r.images) > 1]
        if several and not self.info.takes_several_images:
            shown = ", ".join(repr(sample_id) for sample_id in several[:10])
            more = f" and {len(several) - 10} more" if len(several) > 10 else ""
            raise EditbenchError(
                f"{self.pipeline} edits one input image; samples {shown}{more} have several. "
                "Use a pipeline that takes several (editor=qwen_image_edit_plus, "
                "editor=flux2_klein)"
            )

    def load(self, device: str) -> None:
        """Read the pipeline onto ``device`` with :meth:`read_pipeline`, then make it ready to
        edit: progress bars off, the transformer's weights in FP8 and its step cache on where
        asked, and, with ``compile``, its blocks compiled (last: they compile what runs)."""
        pipe = self.read_pipeline(device)
        pipe.set_progress_bar_config(disable=True)
        if self.fp8 is not None:
            use_fp8(pipe.transformer, self.fp8, device, getattr(torch, self.dtype))
        if self._step_cache_config is not None:
            pipe.transformer.enable_cache(self._step_cache_config)
        if self.compile:
            transformer = pipe.transformer
            if not getattr(transformer, "_repeated_blocks", None):
                raise RuntimeError(
                    f"editor.compile: {type(transformer).__name__} declares no repeated blocks "
                    "to compile; expected editor.compile=false"
                )
            if self.pipeline.startswith("QwenImage"):
                use_real_rotary_embedding(transformer)  # complex ops would run unfused
            # Lazy: each block compiles on its first call. All blocks share one compiled graph,
            # so compiling costs one block's compilation (again for each new input shape).
            transformer.compile_repeated_blocks(fullgraph=True)
        self._pipe = pipe

    def read_pipeline(self, device: str) -> Any:
        """Read the pipeline's weights from ``model`` straight onto ``device``, in ``dtype``.

        The only weight read of :meth:`load`: a subclass that builds the model another way (a
        benchmark's random weights, say) overrides this and keeps the rest of ``load``. Returns
        the diffusers pipeline with every model on ``device``.
        """
        # Imported here: the parent builds editors only to read their fingerprint.
        import diffusers

        pipeline_class = getattr(diffusers, self.pipeline)
        dtype = getattr(torch, self.dtype)
        # diffusers 0.42's pipeline-level device_map takes only "balanced", "cpu" or the bare
        # accelerator type ("cuda"), which transformers resolves to cuda:$LOCAL_RANK, not to
        # this worker's GPU. A model's own from_pretrained takes any device ("cuda:3"), so each
        # model is read onto the device, shard by shard, and handed to the pipeline, which
        # reads the rest (scheduler, tokenizer, processor): no CPU copy of the whole pipeline
        # and no pipe.to().
        index = pipeline_class.load_config(self.model, revision=self.revision)
        models = {}
        for name, entry in index.items():  # "transformer": ["diffusers", "QwenImage..."], ...
            if not (isinstance(entry, list) and entry[0] in ("diffusers", "transformers")):
                continue
            component_class = getattr(importlib.import_module(entry[0]), entry[1])
            if issubclass(component_class, torch.nn.Module):
                models[name] = component_class.from_pretrained(
                    self.model,
                    subfolder=name,
                    revision=self.revision,
                    dtype=dtype,
                    device_map=device,
                )
        return pipeline_class.from_pretrained(
            self.model, revision=self.revision, dtype=dtype, **models
        )

    def edit(self, requests: Sequence[EditRequest]) -> list[Image.Image]:
        """Edit each request in turn; see :meth:`Editor.edit`."""
        if self._pipe is None:
            raise RuntimeError("DiffusersEditor.edit() called before load()")
        return [self._edit_one(request) for request in requests]

    def _edit_one(self, request: EditRequest) -> Image.Image:
        inputs = [self._sized(open_rgb(path)) for path in request.images]
        # A CPU generator draws the same noise whatever the pipeline's device.
        generator = torch.Generator().manual_seed(request.seed)
        progress = {}
        if self.info.reports_steps and self.step_callback:
            progress["callback_on_step_end"] = self._on_step_end
        output = self._pipe(
            # a pipeline of separate references takes a list, of one image too
            **{self.info.image_parameter: inputs if self.info.takes_several_images else inputs[0]},
            prompt=self.info.prompt(request.instruction, len(inputs)),
            generator=generator,
            # Floats in 0..1, read before they become 8-bit pixels, where NaN would be black.
            output_type="np",
            **self.call,
            **progress,
        )
        return self._checked_image(request, output.images)

    def _checked_image(self, request: EditRequest, images: np.ndarray) -> Image.Image:
        """The first of the pipeline's ``images`` (a batch of floats in 0..1) as an RGB image;
        :class:`SampleError` when it holds NaN or infinity, or has a size no judge takes."""
        values = np.asarray(images)[0]
        finite = np.isfinite(values)
        if not finite.all():
            raise SampleError(
                f"sample {request.sample_id!r}: {self.pipeline} produced non-finite values (NaN "
                f"or infinity) in {values.size - finite.sum():,} of the edit's {values.size:,} "
                "values; expected finite pixels. Common causes: too few steps for the scheduler "
                "(editor.call.num_inference_steps=1 divides 0 by 0 in flow-matching schedulers "
                "with a terminal shift), float16 overflow (try editor.dtype=bfloat16 or "
                "float32), or damaged weights"
            )
        # The pipeline's own conversion of its PIL output: the pixels it would have returned.
        image = self._pipe.image_processor.numpy_to_pil(values)[0].convert("RGB")
        problem = size_problem(*image.size)
        if problem:
            raise SampleError(
                f"sample {request.sample_id!r}: the image {self.pipeline} returned {problem}"
            )
        return image

    def _sized(self, image: Image.Image) -> Image.Image:
        """``image`` with its long side at ``input_long_side`` and each side a multiple of 64
        (InstructPix2Pix's edit_cli.py: ImageOps.fit with Lanczos), or as it is."""
        if self.input_long_side is None:
            return image
        width, height = image.size
        factor = self.input_long_side / max(width, height)
        size = tuple(max(64, int(side * factor / 64 + 0.5) * 64) for side in (width, height))
        return ImageOps.fit(image, size, method=Image.Resampling.LANCZOS)

    def _on_step_end(
        self, pipe: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        self.step_callback(step + 1, pipe.num_timesteps)
        # diffusers reads back the tensors it passed in; returning them unchanged edits nothing.
        return callback_kwargs
