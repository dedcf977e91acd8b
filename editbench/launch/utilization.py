"""GPU utilisation of a worker's devices, sampled in the background while it works."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

log = logging.getLogger(__name__)

INTERVAL_S = 0.5


class UtilizationSampler:
    """Samples ``torch.cuda.utilization`` (NVML: the share of time a kernel ran) of ``devices``
    every half second until stopped. On the CPU, or where NVML cannot be read, it reads
    nothing and :meth:`stop` returns None: utilisation is reported only where it is known."""

    def __init__(self, devices: Sequence[str]) -> None:
        self.devices = [d for d in devices if d.startswith("cuda")]
        self.readings: list[float] = []
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> UtilizationSampler:
        if self.devices and self._read() is not None:
            self._thread = threading.Thread(target=self._sample, name="utilization", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> float | None:
        """Stop sampling; the mean utilisation in percent over the samples, or None."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
        return sum(self.readings) / len(self.readings) if self.readings else None

    def _sample(self) -> None:
        while not self._stopped.wait(INTERVAL_S):
            reading = self._read()
            if reading is not None:
                self.readings.append(reading)

    def _read(self) -> float | None:
        import torch

        try:
            values = [torch.cuda.utilization(device) for device in self.devices]
        except Exception as error:  # no NVML bindings, or a driver that does not report it
            log.info("GPU utilisation cannot be read: %s", error)
            return None
        return sum(values) / len(values)
