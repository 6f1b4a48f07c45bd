"""A decoding step's log P held only on its support (inference).

The copy generator's P (eq. 14) can be non-zero only at the ids p_p covers and at the ids a
row copies (its source words, its label or neighbour words); everywhere else log P is the
constant log(EPS). The extended vocabulary is ~3.5x that support, so an inference step
keeps log P on the support only, as `SupportLogProbs`, and a search selects over it (see
`mmkp.decoding.beam_search`); `dense()` gives back the full (N, V_ext) tensor, bit for bit.

Invariants (what makes a search over the support exact):
- each row's `ids` ascend; a row whose support is narrower than the widest of the batch is
  padded at its end with the id `width` (outside the vocabulary), whose value is `floor`;
- every value is >= `floor` (log of a probability floored at EPS);
- every id of [0, width) not in a row's `ids` has log P = `floor` in that row.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Support:
    """Where a source's P can be non-zero: `ids` (P, S) its support (module docstring's
    layout) and `slots` (P, O + C): the column of `ids` holding each of the O ids p_p covers
    followed by each of the C copied ids (in the generator's scatter order)."""

    ids: torch.Tensor
    slots: torch.Tensor


def support(output_ids: torch.Tensor, copy_ids: torch.Tensor, width: int) -> Support:
    """output_ids (O,) the ids p_p covers, copy_ids (P, C) each source's copied ids (repeats
    allowed), width V_ext -> the sources' `Support`."""
    sources = copy_ids.size(0)
    listed = torch.cat([output_ids.expand(sources, -1), copy_ids], 1)  # (P, O + C)
    ordered, order = listed.sort(dim=1, stable=True)
    first = torch.ones_like(ordered, dtype=torch.bool)
    first[:, 1:] = ordered[:, 1:] != ordered[:, :-1]  # the first of each run of an id
    column = first.cumsum(1) - 1  # (P, O + C) the column of each sorted entry
    size = int(column[:, -1].max()) + 1
    ids = torch.full((sources, size), width, dtype=torch.long, device=listed.device)
    ids.scatter_(1, column, ordered)  # repeats write the same id
    return Support(ids=ids, slots=torch.empty_like(column).scatter_(1, order, column))


@dataclass(frozen=True)
class SupportLogProbs:
    """log P (N, V_ext) as `values` (N, S) at `ids` (R, S), the rows of one support row
    consecutive (row n reads ids[n // (N // R)]: R = N, one per row; R = P, one per source
    of `beam` rows), and `floor` everywhere else (module docstring)."""

    values: torch.Tensor
    ids: torch.Tensor
    width: int
    floor: float

    @property
    def shape(self) -> tuple[int, int]:
        """(N, V_ext): the dense tensor's shape."""
        return (self.values.size(0), self.width)

    def grouped(self, values: torch.Tensor) -> torch.Tensor:
        """values (N, S, ...) -> (R, N // R, S, ...): each support row's rows together."""
        return values.view(self.ids.size(0), -1, *values.shape[1:])

    def columns(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (M, n) extended ids, M = N (per row) or R (per support row) -> (M, n) their
        columns in the row's support, -1 where it lacks the id."""
        wanted = self.grouped(ids).flatten(1)  # (R, G * n)
        column = torch.searchsorted(self.ids, wanted).clamp_max_(self.ids.size(1) - 1)
        held = self.ids.gather(1, column) == wanted
        return column.masked_fill_(~held, -1).view_as(ids)

    def tokens(self, rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
        """rows (n,) and columns (n,) of `values` -> (n,) the extended ids there."""
        per_support = self.values.size(0) // self.ids.size(0)
        return self.ids[rows // per_support, columns]

    def dense(self) -> torch.Tensor:
        """(N, V_ext) log P over the whole extended vocabulary."""
        rows = self.values.size(0)
        full = self.values.new_full((rows, self.width + 1), self.floor)  # + 1: the pad id
        ids = self.ids.unsqueeze(1).expand(-1, rows // self.ids.size(0), -1)  # (R, G, S)
        full.scatter_(1, ids.reshape(rows, -1), self.values)
        return full[:, : self.width].contiguous()
