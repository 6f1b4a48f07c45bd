"""K-step target assignment (Ye et al., 2021, sec. 3.2): which target each slot learns.

The slots' first K greedy predictions are compared with every target's first K tokens:

    score[i, j] = sum_{t < K} P_i,t(y_j,t)      (over the real tokens of y_j; ∅ scores 0)

and a one-to-one assignment maximising the total score (the Hungarian algorithm,
scipy's `linear_sum_assignment`) gives slot i the target perm[i]. Done separately within each
slot group (present slots, absent slots), so a present keyphrase stays in a present slot.
"""

from __future__ import annotations

import numpy as np
import torch


def assignment_scores(
    probs: torch.Tensor, targets: torch.Tensor, ignore: torch.Tensor
) -> torch.Tensor:
    """probs (B, N, K, V) of the slots' first K steps, targets (B, M, K) ids, ignore (B, M, K)
    bool (padding, ∅) -> score (B, N, M): slot i's probability mass on target j's tokens."""
    batch, slots, steps, _ = probs.shape
    scores = probs.new_zeros(batch, slots, targets.size(1))
    for t in range(steps):
        index = targets[:, None, :, t].expand(-1, slots, -1)  # (B, N, M)
        mass = probs[:, :, t].gather(2, index)  # (B, N, M)
        scores = scores + mass.masked_fill(ignore[:, None, :, t], 0.0)
    return scores


def hungarian(scores: torch.Tensor) -> torch.Tensor:
    """scores (N, N) -> perm (N,) long: slot i gets target perm[i], the one-to-one assignment
    with the highest total score."""
    from scipy.optimize import linear_sum_assignment  # 0.3 s to import; training only

    rows, cols = linear_sum_assignment(scores.detach().cpu().numpy(), maximize=True)
    perm = np.empty(len(rows), dtype=np.int64)
    perm[rows] = cols
    return torch.from_numpy(perm).to(scores.device)


def assign_targets(
    probs: torch.Tensor,
    targets: torch.Tensor,
    ignore: torch.Tensor,
    groups: list[tuple[int, int]],
) -> torch.Tensor:
    """perm (B, N) long: the target index of every slot, assigned within each [start, end)
    slot group (the targets of a group are the same positions)."""
    batch, slots = targets.shape[:2]
    perm = torch.arange(slots, device=targets.device).repeat(batch, 1)  # (B, N)
    for start, end in groups:
        scores = assignment_scores(
            probs[:, start:end], targets[:, start:end], ignore[:, start:end]
        )  # (B, n, n)
        for row in range(batch):
            perm[row, start:end] = start + hungarian(scores[row])
    return perm
