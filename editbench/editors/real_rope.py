"""Qwen-Image's rotary embedding on real tensors, so that torch.compile can fuse it.

diffusers applies Qwen-Image's rotary embedding to the queries and keys as a complex product
(``apply_rotary_emb_qwen(x, freqs, use_real=False)``). Inductor generates no code for complex
operators: it runs each of them on its own between the compiled kernels, a float32 pass over
every query and key of every block ("Torchinductor does not support code generation for complex
operators"; diffusers issue #12668 also reports random compile failures from it). The same
product written on the real and imaginary parts is fused by inductor into the kernels around
it, and with the frequencies handed to the blocks as real pairs no complex tensor is left in
the compiled graphs.
"""

from __future__ import annotations

from typing import Any

import torch


def rotate(x: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """``x`` [B, S, H, D] times ``freqs`` [S, D/2] (complex, or its real view [S, D/2, 2]), each
    consecutive pair of ``x``'s last dimension taken as one complex number: the complex branch
    of diffusers' ``apply_rotary_emb_qwen``, in float32, on real tensors."""
    pairs = torch.view_as_real(freqs) if freqs.is_complex() else freqs
    cos, sin = pairs.unsqueeze(1).unbind(-1)  # [S, 1, D/2] each
    real, imag = x.float().unflatten(-1, (-1, 2)).unbind(-1)  # [B, S, H, D/2] each
    rotated = torch.stack([real * cos - imag * sin, real * sin + imag * cos], dim=-1)
    return rotated.flatten(3).type_as(x)


def use_real_rotary_embedding(transformer: torch.nn.Module) -> None:
    """Make ``transformer`` (a diffusers ``QwenImageTransformer2DModel``) apply its rotary
    embedding with :func:`rotate`, on frequencies it hands to its blocks as real pairs.

    Call it before the transformer's first compiled call: torch.compile traces what the blocks
    call then. The rotation is replaced for every Qwen-Image transformer of this process (it
    takes either form of the frequencies, so one left as it was still works); the frequencies'
    form changes for ``transformer`` alone, which then no longer fits diffusers' context
    parallelism (its plan splits the frequencies as two-dimensional). Calling it again changes
    nothing.
    """
    from diffusers.models.transformers import transformer_qwenimage as qwenimage

    diffusers_version = qwenimage.apply_rotary_emb_qwen
    if getattr(diffusers_version, "replaces", None) is None:

        def apply_rotary_emb_qwen(
            x: torch.Tensor, freqs_cis: Any, use_real: bool = True, use_real_unbind_dim: int = -1
        ) -> torch.Tensor:
            if use_real:  # (cos, sin) already: diffusers' own code
                return diffusers_version(x, freqs_cis, use_real, use_real_unbind_dim)
            return rotate(x, freqs_cis)

        apply_rotary_emb_qwen.replaces = diffusers_version  # type: ignore[attr-defined]
        qwenimage.apply_rotary_emb_qwen = apply_rotary_emb_qwen

    pos_embed = transformer.pos_embed
    if not getattr(pos_embed, "gives_real_pairs", False):
        pos_embed.register_forward_hook(_as_real_pairs)
        pos_embed.gives_real_pairs = True


def _as_real_pairs(module: torch.nn.Module, args: Any, frequencies: Any) -> tuple:
    """The rotary embedding's (image, text) frequencies as real views [S, D/2, 2]."""
    return tuple(torch.view_as_real(f) for f in frequencies)
