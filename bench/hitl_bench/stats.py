"""Percentiles of one sample and the spread of a figure over several runs."""

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class Quantiles:
    """Milliseconds."""

    p50: float
    p95: float
    p99: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> "Quantiles":
        ms = [s * 1000.0 for s in seconds]
        return cls(percentile(ms, 50), percentile(ms, 95), percentile(ms, 99))


@dataclass(frozen=True, slots=True)
class Spread:
    """A figure over several runs: the median, and the lowest and highest run."""

    median: float
    low: float
    high: float
    runs: int

    @classmethod
    def of(cls, values: Sequence[float]) -> "Spread":
        real = [v for v in values if not math.isnan(v)]
        if not real:
            return cls(math.nan, math.nan, math.nan, 0)
        return cls(statistics.median(real), min(real), max(real), len(real))

    def show(self, fmt: str = "{:.1f}") -> str:
        if self.runs == 0:
            return "-"
        mid = fmt.format(self.median)
        if self.runs == 1:
            return mid
        return f"{mid} [{fmt.format(self.low)}-{fmt.format(self.high)}]"
