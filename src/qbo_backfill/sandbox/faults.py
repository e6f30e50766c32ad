"""Fault injection: a parsed spec and a deterministic draw per request."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["FAULT_KINDS", "FaultSpec"]

FAULT_KINDS = ("500", "503", "429", "xml429", "fault200", "401", "slow", "reset", "truncated")
_OPTIONS = ("burst", "slow_seconds", "seed", "retry_after")


@dataclass(frozen=True)
class FaultSpec:
    """Rates per fault kind, plus the burst length, slow delay and the draw's seed."""

    rates: dict[str, float] = field(default_factory=dict)
    burst: int = 3
    slow_seconds: float = 5.0
    seed: int = 42
    retry_after: float | None = None  # seconds; when set, every 429 carries Retry-After

    @classmethod
    def parse(cls, spec: str, *, default_seed: int = 42) -> FaultSpec:
        """Parse `kind=rate,...,burst=N,slow_seconds=S,seed=N,retry_after=S`; ValueError if bad."""
        rates, options = _split(spec)
        if sum(rates.values()) > 1.0 + 1e-9:
            raise ValueError(f"fault spec: rates add up to {sum(rates.values()):.3f}, above 1")
        burst = options.get("burst", 3)
        seed = options.get("seed", default_seed)
        for name, value in (("burst", burst), ("seed", seed)):
            if value != int(value) or (name == "burst" and value < 0):
                raise ValueError(f"fault spec: {name} must be a whole number >= 0, got {value}")
        for name in ("slow_seconds", "retry_after"):
            if options.get(name, 0.0) < 0:
                raise ValueError(f"fault spec: {name} must be >= 0, got {options[name]}")
        return cls(
            rates=rates,
            burst=int(burst),
            slow_seconds=options.get("slow_seconds", 5.0),
            seed=int(seed),
            retry_after=options.get("retry_after"),
        )

    def draw(self, realm: str, sequence: int) -> tuple[str | None, float]:
        """The fault for a realm's `sequence`-th data request (or None), and a spare uniform.

        The draw depends only on the seed, the realm and the sequence number, so a run
        that sends the same requests in the same order meets the same faults.
        """
        rng = random.Random(f"fault:{self.seed}:{realm}:{sequence}")
        point, spare = rng.random(), rng.random()
        edge = 0.0
        for kind in FAULT_KINDS:
            rate = self.rates.get(kind, 0.0)
            if rate and point < edge + rate:
                return kind, spare
            edge += rate
        return None, spare


def _split(spec: str) -> tuple[dict[str, float], dict[str, float]]:
    """`kind=rate` pairs and `option=value` pairs of a spec, each value a number."""
    rates: dict[str, float] = {}
    options: dict[str, float] = {}
    for raw in (spec or "").split(","):
        part = raw.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not sep:
            raise ValueError(f"fault spec: expected kind=rate, got {part!r}")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"fault spec: {name} needs a number, got {value.strip()!r}") from None
        if name in FAULT_KINDS:
            if not 0.0 <= number <= 1.0:
                raise ValueError(f"fault spec: rate of {name} must be in [0, 1], got {number}")
            rates[name] = number
        elif name in _OPTIONS:
            options[name] = number
        else:
            known = ", ".join((*FAULT_KINDS, *_OPTIONS))
            raise ValueError(f"fault spec: unknown kind {name!r} (known: {known})")
    return rates, options
