"""Torch device names checked before any work: ``auto``, ``cpu``, ``cuda``, ``cuda:1`` …

A misspelt ``--device`` would otherwise surface as torch's ``RuntimeError`` deep inside a model
load (an internal error locally, a dead Ray actor on a cluster).  This checks the name only —
whether such a device exists is known where the model loads (:func:`prefkit.jobs.engines
.worker_device` names ``CUDA_VISIBLE_DEVICES``).
"""

from __future__ import annotations

import re

from prefkit.errors import DataError

#: the device types torch accepts at the start of a device string (and ``auto``: any)
DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu", "hip", "xla", "meta", "hpu", "mtia", "ipu",
                "mkldnn", "opengl", "opencl", "ideep", "ve", "fpga", "maia", "lazy", "vulkan",
                "privateuseone")
_DEVICE = re.compile(rf"auto|(?:{'|'.join(DEVICE_TYPES)})(?::\d+)?")


def check_device(device: str, field: str = "--device") -> str:
    """``device`` if it names a torch device type (optionally ``:index``), else a one-line
    :class:`~prefkit.errors.DataError`."""
    if not isinstance(device, str) or not _DEVICE.fullmatch(device):
        raise DataError(f"unknown device {device!r} (expected auto, cpu, cuda, cuda:N, mps …)",
                        source=field)
    return device
