"""A batch's joined targets (`data.targets: one2seq`) -> One2Set's slot targets (kg_one2set's
`collate_fn_fixed_tgt`).

Each row's target `kp_1 <seg> ... kp_n <eos>` is split into keyphrases; those longer than
`max_kp_len - 1` words are left out. Present keyphrases (found in X_T) fill the present
slots and absent ones the absent slots, in order, as many as fit; the other slots get ∅.
A slot's target is `w_1 .. w_m <eos>`, padded; ∅ is `<eos>` at the first step (an empty
keyphrase: the model's ∅ token, which decoding drops).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mmkp.data.batch import Batch
from mmkp.data.processor import find_phrase
from mmkp.data.vocab import EOS_ID, PAD_ID, SEG_ID
from mmkp.model.one2set.config import One2SetConfig


@dataclass
class SlotTargets:
    tokens: torch.Tensor  # (B, N, K) extended ids, <eos> after the words, <pad> after that
    mask: torch.Tensor  # (B, N, K) bool, True on the real tokens (a ∅ slot: its first)
    null: torch.Tensor  # (B, N) bool, True on ∅ slots

    def reordered(self, perm: torch.Tensor) -> SlotTargets:
        """perm (B, N): slot i gets the target perm[:, i]."""
        take = perm[:, :, None].expand_as(self.tokens)
        return SlotTargets(
            self.tokens.gather(1, take), self.mask.gather(1, take), self.null.gather(1, perm)
        )


def split_target(ids: list[int]) -> list[list[int]]:
    """A joined target's ids (up to <eos>) -> its keyphrases' ids."""
    words = ids[: ids.index(EOS_ID)] if EOS_ID in ids else ids
    phrases, current = [], []
    for token in [*words, SEG_ID]:
        if token == SEG_ID:
            if current:
                phrases.append(current)
            current = []
        else:
            current.append(token)
    return phrases


def slot_targets(batch: Batch, config: One2SetConfig) -> SlotTargets:
    """The slot targets of every row of a one2seq batch."""
    slots, width = config.num_slots, config.max_kp_len
    tokens = torch.full((batch.size, slots, width), PAD_ID, dtype=torch.long)
    tokens[:, :, 0] = EOS_ID  # ∅ until a keyphrase is placed
    null = torch.ones(batch.size, slots, dtype=torch.bool)
    for row in range(batch.size):
        source = batch.src_ext_ids[row][batch.src_mask[row]].tolist()
        phrases = split_target(batch.trg_out[row][batch.trg_mask[row]].tolist())
        phrases = [p for p in phrases if len(p) < width]
        groups = [phrases]
        if config.separate_present_absent:
            present = [p for p in phrases if find_phrase(p, source) is not None]
            groups = [present, [p for p in phrases if find_phrase(p, source) is None]]
        for (first, last), chosen in zip(config.slot_groups, groups, strict=True):
            for slot, phrase in enumerate(chosen[: last - first], start=first):
                tokens[row, slot, : len(phrase) + 1] = torch.tensor([*phrase, EOS_ID])
                null[row, slot] = False
    device = batch.src_ids.device
    return SlotTargets(tokens.to(device), (tokens != PAD_ID).to(device), null.to(device))
