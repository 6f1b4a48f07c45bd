"""K-step target assignment on hand-built slot predictions."""

from __future__ import annotations

import torch

from mmkp.model.one2set.assignment import assign_targets, assignment_scores, hungarian


def test_scores_sum_each_slots_probability_of_a_targets_tokens():
    # 2 slots, 2 steps, vocabulary of 4; target 0 = (1, 2), target 1 = (3, <pad>)
    probs = torch.tensor(
        [
            [[0.1, 0.6, 0.2, 0.1], [0.0, 0.1, 0.8, 0.1]],  # slot 0 says "1 2"
            [[0.1, 0.1, 0.1, 0.7], [0.5, 0.2, 0.2, 0.1]],  # slot 1 says "3"
        ]
    ).unsqueeze(0)  # (1, N=2, K=2, V=4)
    targets = torch.tensor([[[1, 2], [3, 0]]])
    ignore = torch.tensor([[[False, False], [False, True]]])  # the padding after "3"
    scores = assignment_scores(probs, targets, ignore)
    expected = torch.tensor([[[0.6 + 0.8, 0.1], [0.1 + 0.2, 0.7]]])
    torch.testing.assert_close(scores, expected)


def test_hungarian_maximises_the_total_not_each_slot_greedily():
    # Slot 0 likes target 0 best (0.9), but giving it target 1 lets slot 1 take target 0:
    # 0.8 + 0.85 = 1.65 beats 0.9 + 0.1 = 1.0.
    scores = torch.tensor([[0.9, 0.8], [0.85, 0.1]])
    assert hungarian(scores).tolist() == [1, 0]
    assert hungarian(torch.eye(3)).tolist() == [0, 1, 2]


def test_targets_are_assigned_within_the_present_and_absent_groups():
    # 4 slots, 1 step, vocabulary 6: slots 0-1 present, 2-3 absent. Slot 0 predicts 2,
    # slot 1 predicts 1, slot 2 predicts 4, slot 3 predicts 5 (nearly surely).
    predicted = torch.tensor([2, 1, 4, 5])
    probs = torch.full((1, 4, 1, 6), 0.01).scatter(3, predicted.view(1, 4, 1, 1), 0.95)
    targets = torch.tensor([[[1], [2], [5], [1]]])  # present 1, 2; absent 5, ∅ (id 1 here)
    ignore = torch.tensor([[[False], [False], [False], [True]]])  # ∅ scores nothing
    perm = assign_targets(probs, targets, ignore, [(0, 2), (2, 4)])
    assert perm.tolist() == [[1, 0, 3, 2]]  # slot 0 <- "2", slot 1 <- "1", slot 3 <- "5"
    assert targets[0, perm[0], 0].tolist() == [2, 1, 1, 5]
