"""The scorer interface: a judge that rates edits from rendered conversations."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

from editbench.identity import Declared
from editbench.records import Judgement, JudgeRequest


class Judge(Declared):
    """A judge. Construction is cheap and loads nothing; a worker calls :meth:`start` and
    :meth:`load` once, :meth:`fit_batch_size` on the first requests it gets, then, for every
    batch, :meth:`prepare` (on a background thread, while the judge scores the batch before)
    and :meth:`score`, and :meth:`close` at the end.

    Each concrete judge declares a stable ``name`` and a ``version`` (bumped when its
    judgements change for the same settings) and returns its :meth:`settings`; the store keys
    its judgements by the fingerprint built from the three (see
    :class:`~editbench.identity.Declared`)."""

    # Requests a worker hands to one score() call: fixed, or the most it may take until
    # fit_batch_size has settled it.
    batch_size: int = 1

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """Everything besides the request and the declared name and version that determines a
        judgement (JSON-serialisable): model id or endpoint, revision, dtype, score mode,
        decoding parameters."""

    def check(self, requests: Sequence[JudgeRequest]) -> None:
        """Raise :class:`~editbench.errors.EditbenchError` naming anything this judge needs and
        lacks (an API key, a request it cannot take). Called by the parent before any model
        loads; by default every request is fine."""
        return

    def start(self, devices: Sequence[str]) -> None:
        """Start what the judge needs besides its model and that takes no device memory
        (helper processes), for ``devices``. A worker calls it before the devices are free, so
        that the start-up overlaps the phase before; :meth:`load` calls it where no one did.
        By default there is nothing to start."""
        return

    def close(self) -> None:
        """Stop what :meth:`start` started; a worker calls it when its work is done. By
        default there is nothing to stop."""
        return

    @abstractmethod
    def load(self, devices: Sequence[str]) -> None:
        """Load the judge onto ``devices``: one, or several for a judge split with device_map."""

    def fit_batch_size(self, requests: Sequence[JudgeRequest]) -> None:
        """Settle :attr:`batch_size` on the run's first ``requests`` where it is chosen from
        the memory they need. By default it is fixed and this does nothing."""
        return

    def decode_bound(self, requests: Sequence[JudgeRequest]) -> bool:
        """Whether a batch of ``requests`` costs about its decoding steps whatever its size
        (replies written token by token), so that cutting it in two costs a second decode. A
        worker then gives this judge whole batches (:mod:`editbench.launch.batching`). By
        default a batch costs about its size."""
        return False

    def prepare(self, requests: Sequence[JudgeRequest]) -> Any:
        """The CPU work for ``requests`` that can run ahead, on another thread, while the judge
        scores other requests; passed back to :meth:`score`. By default there is none."""
        return None

    @abstractmethod
    def score(self, requests: Sequence[JudgeRequest], prepared: Any = None) -> list[Judgement]:
        """Judge each request; returns one :class:`Judgement` per request, in order.

        ``prepared`` is what :meth:`prepare` returned for these requests, or None: then the
        judge does that work itself. A reply the judge cannot be read from is a judgement with
        a failure status and no score, never a default number. Raises only for failures of the
        judge itself (out of memory, a broken model), which stop the run.
        """
