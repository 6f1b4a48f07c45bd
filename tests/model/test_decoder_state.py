"""DecoderState keeps the source once per source: reordering it must give the state that
reordering every row alone gives (issue 21)."""

from __future__ import annotations

import torch

from mmkp.model.modules.decoder import DecoderState


def state(sources: int) -> DecoderState:
    g = torch.Generator().manual_seed(0)
    return DecoderState(
        hidden=torch.randn(sources, 4, generator=g),
        memory=torch.randn(sources, 5, 4, generator=g),
        keys=torch.randn(sources, 5, 4, generator=g),
        src_mask=torch.rand(sources, 5, generator=g) > 0.3,
        src_ext_ids=torch.randint(0, 9, (sources, 5), generator=g),
        fused=torch.randn(sources, 4, generator=g),
        copy_ids=torch.randint(0, 9, (sources, 3), generator=g),
        copy_weights=torch.rand(sources, 3, generator=g),
        ext_size=12,
    )


def assert_same(a: DecoderState, b: DecoderState) -> None:
    a, b = a.per_row(), b.per_row()
    for name in ("hidden", "memory", "keys", "src_mask", "src_ext_ids", "fused", "copy_ids"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name


def test_beam_reorders_match_per_row_reorders() -> None:
    beam = 2
    for sources in (3, 32):  # untied (copied at once) and tied (one row per source)
        start = state(sources)
        rows = start.reorder(torch.arange(sources).repeat_interleave(beam))
        grouped = start.expand(beam)
        assert grouped.tied == (sources % 32 == 0)
        # follow back-pointers within each source, then drop source 1
        index = torch.arange(sources * beam).view(sources, beam).flip(1).flatten()
        assert_same(grouped.reorder(index), rows.reorder(index))
        keep = torch.tensor([0, 1, *range(4, sources * beam)])
        assert_same(grouped.reorder(index).reorder(keep), rows.reorder(index).reorder(keep))
        assert grouped.reorder(index).reorder(keep).memory.size(0) == sources - 1


def test_an_order_across_sources_falls_back_to_rows() -> None:
    start = state(3)
    index = torch.tensor([5, 0, 3, 1, 2, 4])
    rows = start.reorder(torch.arange(3).repeat_interleave(2))
    moved = start.expand(2).reorder(index)
    assert moved.beam == 1
    assert_same(moved, rows.reorder(index))
