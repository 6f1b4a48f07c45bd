"""log P on its support: the layout `support` builds and what `SupportLogProbs` answers."""

from __future__ import annotations

import torch

from mmkp.model.modules.support import SupportLogProbs, support


def test_support_lists_each_sources_ids_once_ascending_padded_with_the_width():
    found = support(torch.tensor([0, 1, 2, 5]), torch.tensor([[5, 7, 8, 0], [9, 9, 9, 9]]), 12)
    assert found.ids.tolist() == [[0, 1, 2, 5, 7, 8], [0, 1, 2, 5, 9, 12]]
    # the column of each p_p id, then of each copied id (repeats share one)
    assert found.slots.tolist() == [[0, 1, 2, 3, 3, 4, 5, 0], [0, 1, 2, 3, 4, 4, 4, 4]]


def _two_sources_two_rows_each() -> SupportLogProbs:
    ids = torch.tensor([[0, 1, 3, 6], [0, 2, 3, 7]])  # 7 = the width: a pad
    values = torch.tensor(
        [
            [-1.0, -2.0, -3.0, -4.0],
            [-5.0, -6.0, -7.0, -8.0],
            [-1.5, -2.5, -3.5, -9.0],  # the pad's value is the floor
            [-1.0, -2.0, -3.0, -9.0],
        ]
    )
    return SupportLogProbs(values, ids, width=7, floor=-9.0)


def test_dense_puts_values_at_their_ids_and_the_floor_elsewhere():
    rows = _two_sources_two_rows_each()
    assert rows.shape == (4, 7)
    full = rows.dense()
    assert full.is_contiguous()
    assert full.tolist() == [
        [-1.0, -2.0, -9.0, -3.0, -9.0, -9.0, -4.0],
        [-5.0, -6.0, -9.0, -7.0, -9.0, -9.0, -8.0],
        [-1.5, -9.0, -2.5, -3.5, -9.0, -9.0, -9.0],
        [-1.0, -9.0, -2.0, -3.0, -9.0, -9.0, -9.0],
    ]


def test_columns_and_tokens_map_between_ids_and_each_rows_support():
    rows = _two_sources_two_rows_each()
    ids = torch.tensor([[3, 2], [6, -1], [2, 6], [0, 5]])
    assert rows.columns(ids).tolist() == [[2, -1], [3, -1], [1, -1], [0, -1]]
    assert rows.tokens(torch.tensor([0, 1, 2, 3]), torch.tensor([3, 1, 1, 2])).tolist() == [
        6,
        1,
        2,
        3,
    ]
