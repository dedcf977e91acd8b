"""The editor interface: (source image, instruction, seed) in, edited image out."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from PIL import Image

from editbench.identity import Declared
from editbench.records import EditRequest


class Editor(Declared):
    """An instruction-based image editor.

    Construction is cheap and loads nothing: the parent process builds editors to read their
    fingerprint; a worker calls :meth:`load` once, then :meth:`edit` on batches.

    Each concrete editor declares a stable ``name`` and a ``version`` (bumped when its edits
    change for the same settings) and returns its :meth:`settings`; the store keys its edits by
    the fingerprint built from the three (see :class:`~editbench.identity.Declared`).

    ``step_callback``, when a worker sets it, is called as ``step_callback(step, total_steps)``
    after every denoising step, for live progress.
    """

    step_callback: Callable[[int, int], None] | None = None

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """Everything besides the request and the declared name and version that determines an
        edit's pixels (JSON-serialisable): model id or path, revision, dtype, every generation
        parameter."""

    def check(self, requests: Sequence[EditRequest]) -> None:
        """Raise :class:`~editbench.errors.EditbenchError` naming any request this editor cannot
        serve. Called by the parent before any model loads; by default every request is fine."""
        return

    @abstractmethod
    def load(self, device: str) -> None:
        """Load the model onto ``device`` (``"cpu"`` or ``"cuda:N"``)."""

    @abstractmethod
    def edit(self, requests: Sequence[EditRequest]) -> list[Image.Image | bytes]:
        """Edit each request; returns one RGB image per request, in order: a PIL image, or the
        bytes of an RGB PNG file (an edit that exists as one already is stored as it is, with
        no decoding and encoding again).

        The same request gives the same image on any device count or order: randomness comes
        only from a generator seeded with ``request.seed``.
        """
