"""Exact allocators: the designed counts are split over days, sites and people without rounding drift."""
from __future__ import annotations

import random


def allocate(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` into len(weights) integers proportional to weights (largest remainder)."""
    n = len(weights)
    if n == 0:
        if total:
            raise ValueError("nothing to allocate to")
        return []
    wsum = sum(weights)
    raw = [total * w / wsum for w in weights]
    out = [int(r) for r in raw]
    rest = total - sum(out)
    order = sorted(range(n), key=lambda i: out[i] - raw[i])  # largest fractional part first
    for i in order[:rest]:
        out[i] += 1
    return out


def allocate_bounded(total: int, weights: list[float], lo: int, hi: int) -> list[int]:
    """Like allocate but every share in [lo, hi]; requires n*lo <= total <= n*hi."""
    n = len(weights)
    if not n * lo <= total <= n * hi:
        raise ValueError("infeasible bounded allocation")
    out = [lo + x for x in allocate(total - n * lo, weights)]
    over = sum(max(0, x - hi) for x in out)
    out = [min(x, hi) for x in out]
    i = 0
    order = sorted(range(n), key=lambda j: -weights[j])
    while over:
        j = order[i % n]
        if out[j] < hi:
            out[j] += 1
            over -= 1
        i += 1
    return out


class Quota:
    """Selection sampling: over exactly ``n`` calls of take(), exactly ``k`` return True."""

    __slots__ = ("rng", "need", "left")

    def __init__(self, rng: random.Random, k: int, n: int):
        if not 0 <= k <= n:
            raise ValueError(f"quota {k} of {n}")
        self.rng, self.need, self.left = rng, k, n

    def take(self, force: bool = False) -> bool:
        if self.left <= 0:
            raise RuntimeError("quota over-drawn")
        hit = self.need > 0 and (force or self.rng.random() * self.left < self.need)
        self.left -= 1
        if hit:
            self.need -= 1
        return hit
