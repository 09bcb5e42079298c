"""Export of a run file to TensorBoard event files, for users whose habits are there.

Every scalar field of every series group becomes a scalar tag ``<group>/<field>`` against the
step; a per-layer field (one value per layer) becomes ``<group>/<field>/<layer>``; residual maps
become images (|r| scaled to [0, 1] per map). The HDF5 run file stays the record: the export
is a one-way copy, written with ``torch.utils.tensorboard`` (the ``tensorboard`` package).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pinn_cli.errors import PinnError


def export(run, logdir: Path) -> Path:
    """Write ``run``'s series into ``logdir`` (created); -> the folder."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise PinnError("--tensorboard needs the tensorboard package: pip install tensorboard "
                        "(or pip install 'pinn-cli[tensorboard]')") from None
    logdir.mkdir(parents=True, exist_ok=True)
    with SummaryWriter(log_dir=str(logdir)) as w:
        for group, data in run.series.items():
            steps = data["step"]
            for field, values in data.items():
                if field == "step":
                    continue
                _write(w, f"{group}/{field}", steps, values)
    return logdir


def _write(w, tag: str, steps: np.ndarray, values: np.ndarray) -> None:
    if values.ndim == 1:
        for s, v in zip(steps, values):
            w.add_scalar(tag, float(v), int(s))
    elif values.ndim == 2:
        for j in range(values.shape[1]):
            for s, v in zip(steps, values[:, j]):
                w.add_scalar(f"{tag}/{j + 1}", float(v), int(s))
    elif values.ndim == 3:                                  # maps: (n, nx, ny) -> images
        for s, m in zip(steps, values):
            finite = np.nan_to_num(m.T[::-1], nan=0.0)     # y up
            top = finite.max() or 1.0
            w.add_image(tag, (finite / top)[None], int(s), dataformats="CHW")
