"""Greedy decoding: the most probable token at every step, one keyphrase per example.

Same rules as beam search (see `strategy`); it gives what `BeamSearch(beam_size=1)` gives,
with a simpler loop. Rows whose keyphrase has ended are dropped from the state.
"""

from __future__ import annotations

import torch

from mmkp.decoding.protocol import DecoderState, StepModel, full_width
from mmkp.decoding.strategy import Collector, DecodeStrategy, Hypothesis, extend


class GreedySearch(DecodeStrategy):
    def search(
        self,
        model: StepModel,
        state: DecoderState,
        batch_size: int,
        device: torch.device | str = "cpu",
    ) -> list[list[Hypothesis]]:
        collector = Collector(batch_size, self.penalty)
        active = torch.arange(batch_size, device=device)  # (b,) example of each live row
        tokens = self.start_tokens(batch_size, device)  # (b,)
        totals = torch.zeros(batch_size, device=device)  # (b,) summed log-probs
        history = torch.zeros(batch_size, 0, dtype=torch.long, device=device)  # (b, t)
        attention_history = torch.zeros(batch_size, 0, device=device)  # (b, t, L)

        for step in range(self.max_len):
            log_probs, attention, state = model.step(tokens, state)  # (b, V), (b, L)
            masked = self.mask_repeats(self.mask(full_width(log_probs).float(), step), history)
            best, tokens = masked.max(dim=1)  # (b,)
            totals = totals + best
            history = extend(history, tokens)
            attention_history = extend(attention_history, attention.float())
            ended = tokens == self.eos_id
            collector.add(
                active[ended],
                history[ended, :-1],
                attention_history[ended, :-1],
                totals[ended],
                finished=True,
            )
            keep = ~ended
            if step == self.max_len - 1:
                collector.add(
                    active[keep],
                    history[keep],
                    attention_history[keep],
                    totals[keep],
                    finished=False,
                )
                break
            if not keep.any():
                break
            state = state.reorder(keep.nonzero().squeeze(1))
            tokens, totals, active = tokens[keep], totals[keep], active[keep]
            history, attention_history = history[keep], attention_history[keep]
        return collector.ranked()
