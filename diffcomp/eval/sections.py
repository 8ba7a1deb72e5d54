"""Which evaluation labels fall in which section (in-distribution, held out, ...).

A dataset without held-out regions has no sections beyond "all"; the lesion variants add theirs.
"""

from __future__ import annotations

from torch import Tensor


def section_masks(spec, labels: Tensor) -> dict[str, Tensor]:
    """Boolean masks over ``labels`` [M, 2], one per named section of ``spec``'s evaluation grid."""
    return {}
