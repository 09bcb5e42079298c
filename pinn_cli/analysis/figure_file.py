"""Writing a figure: the one place every figure module saves through."""
from __future__ import annotations

from pathlib import Path


def save(fig, path: Path) -> Path:
    """``fig`` laid out and written to ``path`` (its folder made), then closed; -> ``path``."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
