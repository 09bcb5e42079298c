"""When a diagnostic is recorded: every ``every`` steps, plus every ``dense_every`` steps up to
``dense_until`` (the fitting phase lasts only the first ~100-200 steps), plus the listed ``at``."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Cadence:
    every: int = 100
    dense_every: int = 0
    dense_until: int = 0
    at: list[int] = field(default_factory=list)

    def __post_init__(self):
        self.at = sorted(int(s) for s in self.at)
        self._at = set(self.at)

    def due(self, step: int) -> bool:
        if self.every and step % self.every == 0:
            return True
        if self.dense_every and step <= self.dense_until and step % self.dense_every == 0:
            return True
        return step in self._at
