"""An inspection's statistics, pure: the sample size, its allocation to villages, the seeded draw, Wilson intervals.

Nothing here touches the database: the caller hands in the sampling frame (each village's folders in a stable order)
and gets back plain values, so a draw can be checked by hand with the same seed and Python's `random`.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import TypeVar

from archiveprint.errors import N_, InvalidValue

T = TypeVar("T")
WORST_CASE_P = 0.5  # the proportion assumed when no earlier rate is known: the largest p(1-p), the largest sample
CONFIDENCE_FIELD = N_("置信水平")
MARGIN_FIELD = N_("允许误差")


def z_of(confidence: float) -> float:
    """The two-sided standard normal quantile of a confidence level (0.95 → 1.95996…)."""
    if not 0.5 <= confidence < 1:
        raise InvalidValue(N_("置信水平应在 0.5 与 1 之间（如 0.95）"), field=CONFIDENCE_FIELD, value=confidence)
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def size_for_margin(margin: float, confidence: float, population: int, *, p: float = WORST_CASE_P) -> int:
    """The sample size that estimates a proportion within ±`margin` at `confidence`: n₀ = z²·p(1−p)/e², then the
    finite-population correction n = n₀ / (1 + (n₀ − 1)/N), rounded up (never more than N)."""
    if not 0 < margin < 0.5:
        raise InvalidValue(N_("允许误差应在 0 与 0.5 之间（如 0.05 表示 ±5%）"), field=MARGIN_FIELD, value=margin)
    if population <= 0:
        return 0
    z = z_of(confidence)
    first = z * z * p * (1 - p) / (margin * margin)
    corrected = first / (1 + (first - 1) / population)
    return min(population, math.ceil(corrected - 1e-9))


def allocate(sizes: Mapping[str, int], total: int, minimum: int) -> dict[str, int]:
    """Split a sample of `total` over strata of `sizes` (in a stable order) in proportion to their size, each getting
    at least `minimum` (all of a stratum smaller than that), none more than it holds; quotas are rounded by the
    largest remainder (ties to the earlier stratum), so the parts add up to `total`. When the minimums alone exceed
    `total`, the minimums are the allocation (the caller says the size was raised)."""
    frame = sum(sizes.values())
    total = min(max(total, 0), frame)
    floors = {key: min(minimum, size) for key, size in sizes.items()}
    if sum(floors.values()) >= total:
        return floors
    fixed: dict[str, int] = {}
    while True:  # strata whose proportional share is under their minimum (or over their size) are set aside
        free = [key for key in sizes if key not in fixed]
        left = total - sum(fixed.values())
        weight = sum(sizes[key] for key in free)
        quotas = {key: left * sizes[key] / weight for key in free} if weight else {}
        low = {key: floors[key] for key in free if quotas[key] < floors[key]}
        high = {key: sizes[key] for key in free if quotas[key] > sizes[key]}
        if not (low or high):
            break
        fixed.update(low or high)
    counts = {**{key: math.floor(quota) for key, quota in quotas.items()}, **fixed}
    order = sorted(quotas, key=lambda key: (-(quotas[key] - math.floor(quotas[key])), list(sizes).index(key)))
    for key in order[:total - sum(counts.values())]:
        counts[key] += 1
    return {key: counts[key] for key in sizes}


def shuffled(seed: str, stratum: str, members: Sequence[T]) -> list[T]:
    """A stratum's members in the order its draw takes them: `random.Random("<seed>/<stratum>")` shuffles them as
    given (the caller orders them stably: by household number). The first n are the sample, the rest the reserves
    in order. Each village has its own generator, so adding a village to the scope leaves the others' draws as
    they were."""
    order = list(members)
    random.Random(f"{seed}/{stratum}").shuffle(order)
    return order


def frame_digest(strata: Mapping[str, Sequence[object]]) -> str:
    """A short fingerprint of the sampling frame (each stratum's members in order): the same seed over the same
    frame draws the same folders, and this says whether the frame is the same."""
    text = "\n".join(f"{key}:{','.join(str(m) for m in members)}" for key, members in strata.items())
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Interval:
    """A rate with its Wilson score interval."""

    hits: int
    total: int
    low: float
    high: float

    @property
    def rate(self) -> float:
        return self.hits / self.total

    def as_json(self) -> dict[str, object]:
        return {"hits": self.hits, "total": self.total, "rate": round(self.rate, 4), "low": round(self.low, 4),
                "high": round(self.high, 4)}

    def text(self) -> str:
        """92.0%（95%CI 85.1%–96.0%） as printed."""
        return f"{self.rate:.1%}（{self.low:.1%}–{self.high:.1%}）"


def wilson(hits: int, total: int, confidence: float = 0.95) -> Interval | None:
    """The Wilson score interval of hits/total (None when nothing was counted: no rate, not 0 %)."""
    if total <= 0:
        return None
    z = z_of(confidence)
    p = hits / total
    shrink = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / shrink
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / shrink
    low = 0.0 if hits == 0 else max(0.0, centre - half)
    high = 1.0 if hits == total else min(1.0, centre + half)
    return Interval(hits, total, low, high)
