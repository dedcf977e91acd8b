"""How DiffusersEditor loads: one weight read (read_pipeline), straight onto the device, and the
optional regional compilation of the transformer, with its rotary embedding on real tensors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest import mock

import numpy as np
import pytest
import torch
from diffusers import DiffusionPipeline, ModelMixin
from diffusers.models.transformers import transformer_qwenimage
from diffusers.models.transformers.transformer_qwenimage import QwenImageTransformerBlock
from hydra.utils import instantiate
from PIL import Image
from transformers import PreTrainedModel

from editbench.config.validate import model_config
from editbench.editors.diffusers_editor import DiffusersEditor
from editbench.editors.real_rope import rotate, use_real_rotary_embedding
from editbench.records import EditRequest

SIZE = 64


@pytest.fixture(autouse=True)
def diffusers_rotation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Put diffusers' own rotary embedding back after each test (compile=True replaces it)."""
    name = "apply_rotary_emb_qwen"
    monkeypatch.setattr(transformer_qwenimage, name, getattr(transformer_qwenimage, name))


def edit_once(editor: DiffusersEditor, source_image: str) -> Image.Image:
    (edited,) = editor.edit([EditRequest("s1", (source_image,), "make it blue", seed=0)])
    return edited


def forbid(monkeypatch: pytest.MonkeyPatch, owner: type, name: str) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"{owner.__name__}.{name} was called")

    monkeypatch.setattr(owner, name, refuse)


class Prebuilt(DiffusersEditor):
    """A subclass that builds its pipeline another way: here, hands over one already read."""

    def __init__(self, pipe: Any, num_inference_steps: int = 2, **kwargs: Any) -> None:
        call = {"num_inference_steps": num_inference_steps, "height": SIZE, "width": SIZE}
        super().__init__("prebuilt", dtype="float32", call=call, **kwargs)
        self.prebuilt = pipe
        self.asked: list[str] = []

    def read_pipeline(self, device: str) -> Any:
        self.asked.append(device)
        return self.prebuilt


@pytest.fixture
def tiny_pipe(tiny_editor: str) -> Any:
    """A fresh tiny pipeline on the CPU (0.1 s), for tests that change it."""
    return DiffusersEditor(tiny_editor, dtype="float32").read_pipeline("cpu")


def test_each_model_is_read_straight_onto_the_asked_device(
    tiny_editor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[str, Any]] = []
    for base in (ModelMixin, PreTrainedModel):

        def spy(cls: type, *args: Any, _read: Callable = base.from_pretrained.__func__, **kw: Any):
            asked.append((cls.__name__, kw["device_map"]))
            return _read(cls, *args, **{**kw, "device_map": "cpu"})  # no GPU here

        monkeypatch.setattr(base, "from_pretrained", classmethod(spy))
    forbid(monkeypatch, DiffusionPipeline, "to")

    # "cuda:1": a worker's device, which diffusers' pipeline-level device_map refuses.
    pipe = DiffusersEditor(tiny_editor, dtype="float32").read_pipeline("cuda:1")

    assert sorted(asked) == [
        ("AutoencoderKLQwenImage", "cuda:1"),
        ("Qwen2_5_VLForConditionalGeneration", "cuda:1"),
        ("QwenImageTransformer2DModel", "cuda:1"),
    ]
    assert type(pipe).__name__ == "QwenImageEditPipeline"


def test_load_leaves_every_parameter_on_the_device_and_never_moves_the_pipeline(
    tiny_editor: str, source_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    forbid(monkeypatch, DiffusionPipeline, "to")
    editor = DiffusersEditor(
        tiny_editor,
        dtype="bfloat16",
        call={"num_inference_steps": 2, "height": SIZE, "width": SIZE},
    )

    editor.load("cpu")

    for name in ("transformer", "vae", "text_encoder"):
        params = list(getattr(editor._pipe, name).parameters())
        assert {(p.device.type, p.dtype) for p in params} == {("cpu", torch.bfloat16)}, name
    assert edit_once(editor, source_image).size == (SIZE, SIZE)


def test_read_pipeline_is_the_only_weight_read(
    tiny_pipe: Any, source_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for owner in (DiffusionPipeline, ModelMixin, PreTrainedModel):
        forbid(monkeypatch, owner, "from_pretrained")
    editor = Prebuilt(tiny_pipe, num_inference_steps=2)

    editor.load("cpu")

    assert editor.asked == ["cpu"]
    assert editor._pipe is tiny_pipe
    assert tiny_pipe._progress_bar_config == {"disable": True}  # the rest of load ran
    assert edit_once(editor, source_image).size == (SIZE, SIZE)


@pytest.mark.parametrize("compile", [False, True])
def test_compile_compiles_each_transformer_block_on_load(tiny_pipe: Any, compile: bool) -> None:
    transformer = tiny_pipe.transformer
    with mock.patch.object(
        transformer, "compile_repeated_blocks", wraps=transformer.compile_repeated_blocks
    ) as spy:
        Prebuilt(tiny_pipe, compile=compile).load("cpu")

    blocks = [m for m in transformer.modules() if isinstance(m, QwenImageTransformerBlock)]
    assert blocks
    # torch.compile is lazy: this only wraps each block; nothing compiles until an edit.
    assert [block._compiled_call_impl is not None for block in blocks] == [compile] * len(blocks)
    assert spy.call_args_list == ([mock.call(fullgraph=True)] if compile else [])
    assert getattr(transformer.pos_embed, "gives_real_pairs", False) is compile


def test_compile_is_in_the_fingerprint() -> None:
    eager = DiffusersEditor("Qwen/Qwen-Image-Edit")
    compiled = DiffusersEditor("Qwen/Qwen-Image-Edit", compile=True)

    assert (eager.fingerprint()["compile"], compiled.fingerprint()["compile"]) == (False, True)
    assert eager.fingerprint() != compiled.fingerprint()


def test_compile_is_a_config_option(compose_config: Callable) -> None:
    editor_config, _ = model_config(compose_config("editor=tiny", "editor.compile=true"), "editor")

    editor = instantiate(editor_config)

    assert editor.compile is True
    assert compose_config("editor=qwen_image_edit").editor.compile is False


@pytest.mark.slow
def test_a_compiled_editor_edits_on_the_cpu(tiny_pipe: Any, source_image: str) -> None:
    """A real compilation of the tiny transformer's blocks (about 25 s on 2 cores with a cold
    inductor cache): with fullgraph, a graph break in QwenImageTransformerBlock fails here. The
    compiled kernels may round differently from eager ones, by a pixel level at most here."""
    eager = Prebuilt(tiny_pipe, num_inference_steps=2)
    eager.load("cpu")
    expected = np.asarray(edit_once(eager, source_image), dtype=np.int16)
    editor = Prebuilt(tiny_pipe, num_inference_steps=2, compile=True)
    editor.load("cpu")

    edited = edit_once(editor, source_image)

    assert (edited.mode, edited.size) == ("RGB", (SIZE, SIZE))
    assert np.abs(np.asarray(edited, dtype=np.int16) - expected).max() <= 1


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_rotate_is_diffusers_complex_product(dtype: torch.dtype) -> None:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 10, 3, 16, generator=generator).to(dtype)  # [B, S, H, D]
    angles = torch.randn(10, 8, generator=generator)
    freqs = torch.polar(torch.ones_like(angles), angles)  # [S, D/2], as QwenEmbedRope gives

    expected = transformer_qwenimage.apply_rotary_emb_qwen(x, freqs, use_real=False)

    assert torch.equal(rotate(x, freqs), expected)
    assert torch.equal(rotate(x, torch.view_as_real(freqs)), expected)


def test_the_real_rotary_embedding_edits_as_diffusers_complex_one(
    tiny_pipe: Any, source_image: str
) -> None:
    editor = Prebuilt(tiny_pipe, num_inference_steps=2)
    editor.load("cpu")
    before = edit_once(editor, source_image)

    use_real_rotary_embedding(tiny_pipe.transformer)
    use_real_rotary_embedding(tiny_pipe.transformer)  # a second call changes nothing
    after = edit_once(editor, source_image)

    assert after.tobytes() == before.tobytes()
    assert len(tiny_pipe.transformer.pos_embed._forward_hooks) == 1
    replaced = transformer_qwenimage.apply_rotary_emb_qwen
    assert replaced.replaces is not None and getattr(replaced.replaces, "replaces", None) is None


def test_no_complex_tensor_reaches_a_compiled_block(tiny_pipe: Any, source_image: str) -> None:
    """Inductor generates no code for complex operators (they would run one by one): every
    graph torch.compile hands its backend from a block of the compiled editor is real."""
    graphs: list[torch.fx.GraphModule] = []

    def record(graph: torch.fx.GraphModule, example_inputs: list) -> Callable:
        graphs.append(graph)
        return graph.forward

    editor = Prebuilt(tiny_pipe, num_inference_steps=2, compile=True)
    editor.load("cpu")
    tiny_pipe.transformer.compile_repeated_blocks(fullgraph=True, backend=record)
    torch._dynamo.reset()
    try:
        edit_once(editor, source_image)
    finally:
        torch._dynamo.reset()

    dtypes = {
        node.meta["example_value"].dtype
        for graph in graphs
        for node in graph.graph.nodes
        if isinstance(node.meta.get("example_value"), torch.Tensor)
    }
    assert graphs and torch.float32 in dtypes
    assert not [dtype for dtype in dtypes if dtype.is_complex]
