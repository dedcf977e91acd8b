"""An editor over a diffusers instruction-editing pipeline (Qwen-Image-Edit and Edit-Plus)."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image

from editbench.choices import Dtype
from editbench.editors.base import Editor
from editbench.editors.real_rope import use_real_rotary_embedding
from editbench.errors import EditbenchError
from editbench.records import EditRequest

# Pipelines whose __call__ takes (image, prompt, negative_prompt, true_cfg_scale, ...).
SUPPORTED_PIPELINES = ("QwenImageEditPipeline", "QwenImageEditPlusPipeline")
# The pipelines whose `image` takes a list: a sample's several input images, in order.
MULTI_IMAGE_PIPELINES = frozenset({"QwenImageEditPlusPipeline"})


class DiffusersEditor(Editor):
    """Edits with a diffusers pipeline loaded by hub id or local path, one request at a time.

    ``step_callback`` (see :class:`Editor`) hears every denoising step of every request, through
    the pipeline's ``callback_on_step_end``; ``step`` counts from 1.

    ``compile`` compiles the transformer's repeated blocks with ``torch.compile`` (diffusers'
    regional compilation): the first edits pay for the compilation, later ones run faster.
    """

    name = "diffusers"
    version = 1

    def __init__(
        self,
        model: str,
        pipeline: str = "QwenImageEditPipeline",
        revision: str | None = None,
        dtype: str = "bfloat16",
        num_inference_steps: int = 50,
        true_cfg_scale: float = 4.0,
        negative_prompt: str = " ",
        height: int | None = None,
        width: int | None = None,
        compile: bool = False,
    ) -> None:
        if pipeline not in SUPPORTED_PIPELINES:
            raise ValueError(
                f"Unsupported pipeline {pipeline!r}. "
                f"Supported pipelines: {list(SUPPORTED_PIPELINES)}"
            )
        if dtype not in Dtype.values():
            raise ValueError(f"Unsupported dtype {dtype!r}. Supported dtypes: {Dtype.values()}")
        self.model = model
        self.pipeline = pipeline
        self.revision = revision
        self.dtype = dtype
        self.num_inference_steps = num_inference_steps
        self.true_cfg_scale = true_cfg_scale
        self.negative_prompt = negative_prompt
        self.height = height
        self.width = width
        self.compile = compile
        self._pipe: Any = None

    def settings(self) -> dict[str, Any]:
        """Model, revision, dtype, every generation parameter, and ``compile`` (compiled kernels
        may round differently, so they may change pixels)."""
        return {
            "model": self.model,
            "pipeline": self.pipeline,
            "revision": self.revision,
            "dtype": self.dtype,
            "num_inference_steps": self.num_inference_steps,
            "true_cfg_scale": self.true_cfg_scale,
            "negative_prompt": self.negative_prompt,
            "height": self.height,
            "width": self.width,
            "compile": self.compile,
        }

    def load(self, device: str) -> None:
        """Read the pipeline onto ``device`` with :meth:`read_pipeline`, then make it ready to
        edit: progress bars off and, with ``compile``, the transformer's blocks compiled."""
        pipe = self.read_pipeline(device)
        pipe.set_progress_bar_config(disable=True)
        if self.compile:
            use_real_rotary_embedding(pipe.transformer)  # complex ops would run unfused
            # Lazy: each block compiles on its first call. All blocks share one compiled graph,
            # so compiling costs one block's compilation (again for each new input shape).
            pipe.transformer.compile_repeated_blocks(fullgraph=True)
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

    def check(self, requests: Sequence[EditRequest]) -> None:
        """Raise :class:`EditbenchError` listing the samples with several input images when the
        pipeline edits one: it would see only the first."""
        several = [r.sample_id for r in requests if len(r.images) > 1]
        if several and self.pipeline not in MULTI_IMAGE_PIPELINES:
            shown = ", ".join(repr(sample_id) for sample_id in several[:10])
            more = f" and {len(several) - 10} more" if len(several) > 10 else ""
            raise EditbenchError(
                f"{self.pipeline} edits one input image; samples {shown}{more} have several. "
                f"Use a pipeline that takes several: {', '.join(sorted(MULTI_IMAGE_PIPELINES))}"
            )

    def _edit_one(self, request: EditRequest) -> Image.Image:
        inputs = []
        for path in request.images:
            with Image.open(path) as source:
                inputs.append(source.convert("RGB"))
        image = inputs[0] if len(inputs) == 1 else inputs
        # A CPU generator draws the same noise whatever the pipeline's device.
        generator = torch.Generator().manual_seed(request.seed)
        output = self._pipe(
            image=image,
            prompt=request.instruction,
            negative_prompt=self.negative_prompt,
            true_cfg_scale=self.true_cfg_scale,
            num_inference_steps=self.num_inference_steps,
            height=self.height,
            width=self.width,
            generator=generator,
            callback_on_step_end=self._on_step_end if self.step_callback else None,
        )
        return output.images[0].convert("RGB")

    def _on_step_end(
        self, pipe: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        self.step_callback(step + 1, pipe.num_timesteps)
        # diffusers reads back the tensors it passed in; returning them unchanged edits nothing.
        return callback_kwargs
