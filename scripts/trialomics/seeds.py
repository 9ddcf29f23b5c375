"""One configured seed, turned into independent per-step seeds.

Each stochastic step asks for ``derive_seed(config_seed, "rule name", *wildcards)``. The derived seed
depends only on the base seed and those keys, so adding or reordering rules never changes another
rule's random numbers, and every output can record the seed it used.
"""
from __future__ import annotations

import hashlib


def derive_seed(base_seed: int, *keys: object) -> int:
    """Return a seed in ``[0, 2**32)`` from the SHA-256 of the base seed and the keys."""
    text = "\x1f".join([str(int(base_seed)), *(str(k) for k in keys)])
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "big")
