"""One2Set (Ye et al., 2021, "One2Set: Generating Diverse Keyphrases as a Set"; kg_one2set):
N learned control codes, each a slot decoding one keyphrase or ∅, all in parallel.

    encode:  X_T --TransformerTextEncoder--> H                               (B, L, d)
    decode:  slot n: y^n = TransformerCopyDecoder(<bos> y^n_<j, H, + c_n)  (B, N, K, V_ext)
             (the slots are independent sequences sharing H: kg_one2set's block-diagonal
             self-attention mask, here one batch row per slot)
    assign:  the targets, permuted within the present and the absent slot groups so that the
             slots' first K greedy predictions score best (one2set.assignment, Hungarian)
    loss:    sum of the token NLL over all slots, ∅ down-weighted (null_weight_present /
             null_weight_absent), divided by the number of target tokens (kg_one2set's
             `loss_normalization: tokens`)

The data must hold one row per post (`data.targets: one2seq`; one2set.targets splits it).
Prediction (`search_keyphrases`, called by mmkp.decoding) decodes every slot greedily and
drops ∅ (a slot whose first token is <eos>); `ranking` orders what is left.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from mmkp.data.batch import Batch
from mmkp.data.vocab import BOS_ID, EOS_ID, LabelSet, Vocab
from mmkp.model.config import ModelConfig
from mmkp.model.modules.decoder import DecoderState
from mmkp.model.modules.embeddings import INIT_RANGE, PretrainedEmbeddings, init_word_embeddings
from mmkp.model.modules.transformer_generator import (
    TransformerGenerator,
    require_one_row_per_post,
)
from mmkp.model.one2set.assignment import assign_targets
from mmkp.model.one2set.config import One2SetConfig
from mmkp.model.one2set.targets import SlotTargets, slot_targets
from mmkp.model.outputs import Encoded, Losses


@dataclass(frozen=True)
class SlotKeyphrase:
    """One slot's keyphrase (a `mmkp.decoding.protocol.ScoredSequence`)."""

    tokens: tuple[int, ...]  # extended ids, without <eos>
    score: float  # mean log-probability of the tokens and the <eos> (if one was produced)
    attention: torch.Tensor  # (len(tokens), L)
    slot: int


class One2Set(TransformerGenerator):
    config: One2SetConfig

    def __init__(
        self,
        config: One2SetConfig,
        *,
        vocab_size: int,
        embeddings: PretrainedEmbeddings | None = None,
    ):
        super().__init__(config, vocab_size=vocab_size)
        self.control_codes = nn.Embedding(config.num_slots, config.emb_size)  # c_1 .. c_N
        init_word_embeddings(
            self.encoder.embedding,
            embeddings,
            others=(self.encoder.type_embedding, self.control_codes),
        )
        nn.init.uniform_(self.control_codes.weight, -INIT_RANGE, INIT_RANGE)

    # ------------------------------------------------------------------------------ losses
    def forward(self, batch: Batch, terms: Collection[str]) -> Losses:
        """L_gen of the assigned slot targets (teacher forcing over all slots at once)."""
        self.check_terms(terms)
        losses = Losses()
        if "gen" not in terms:
            return losses
        require_one_row_per_post(batch, self.config.name)
        targets = slot_targets(batch, self.config)
        if self.config.assign_steps > 0:
            targets = targets.reordered(self._assignment(batch, targets))
        encoded = self.encode(batch)
        bos = torch.full_like(targets.tokens[..., :1], BOS_ID)
        inputs = torch.cat([bos, targets.tokens[..., :-1]], dim=-1)  # (B, N, K)
        nll = self.decoder(
            inputs.flatten(0, 1),
            targets.tokens.flatten(0, 1),
            targets.mask.flatten(0, 1),
            self._slot_state(batch, encoded),
        ).view(targets.tokens.shape)  # (B, N, K)
        losses["gen"] = self._set_loss(nll, targets)
        return losses

    def _assignment(self, batch: Batch, targets: SlotTargets) -> torch.Tensor:
        """perm (B, N): the K-step assignment, from the model without dropout (as kg_one2set)."""
        training = self.training
        self.eval()
        with torch.no_grad():
            steps = self._greedy(batch, self.encode(batch), self.config.assign_steps)
            probs = torch.stack([log_probs.exp() for log_probs, _ in steps], dim=2)
        self.train(training)
        k = self.config.assign_steps
        ignore = ~targets.mask[..., :k] | targets.null[..., None]  # (B, N, K): padding, ∅
        return assign_targets(probs, targets.tokens[..., :k], ignore, self.config.slot_groups)

    def _set_loss(self, nll: torch.Tensor, targets: SlotTargets) -> torch.Tensor:
        """nll (B, N, K) of the assigned targets -> the ∅-weighted sum over target tokens."""
        weight = torch.ones_like(nll)
        for (start, end), null_weight in zip(
            self.config.slot_groups, self._null_weights(), strict=True
        ):
            group = weight[:, start:end]
            group.masked_fill_(targets.null[:, start:end, None], null_weight)
        weight = weight * targets.mask
        return (nll * weight).sum() / targets.mask.sum().clamp_min(1)

    def _null_weights(self) -> tuple[float, ...]:
        c = self.config
        if c.separate_present_absent:
            return c.null_weight_present, c.null_weight_absent
        return (c.null_weight_present,)

    # ------------------------------------------------------------------------------ slots
    def _slot_state(self, batch: Batch, encoded: Encoded) -> DecoderState:
        """One decoding row per (post, slot): row b * N + n is slot n of post b."""
        assert encoded.memory is not None
        n = self.config.num_slots
        return self.decoder.start(
            encoded.memory.repeat_interleave(n, dim=0),
            batch.src_mask.repeat_interleave(n, dim=0),
            batch.src_ext_ids.repeat_interleave(n, dim=0),
            self.vocab_size + batch.max_oov,
            extra=self.control_codes.weight.repeat(batch.size, 1),  # (B * N, e)
        )

    def _greedy(
        self,
        batch: Batch,
        encoded: Encoded,
        steps: int,
        blocked_ids: Sequence[int] = (),
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """`steps` greedy steps of every slot: per step, log P (B, N, V_ext) and alpha (B, N, L)
        (blocked ids never chosen); the chosen token is the argmax of log P."""
        state = self._slot_state(batch, encoded)
        tokens = torch.full((state.memory.size(0),), BOS_ID, device=batch.src_ids.device)
        blocked = torch.tensor(sorted(set(blocked_ids)), dtype=torch.long, device=tokens.device)
        out = []
        for _ in range(steps):
            log_probs, attention, state = self.decoder.step(tokens, state)
            log_probs = log_probs.index_fill(1, blocked, float("-inf"))
            tokens = log_probs.argmax(dim=1)
            out.append(
                (
                    log_probs.view(batch.size, -1, log_probs.size(1)),
                    attention.view(batch.size, -1, attention.size(1)),
                )
            )
        return out

    @torch.no_grad()
    def search_keyphrases(
        self, batch: Batch, encoded: Encoded, *, max_len: int, blocked_ids: Sequence[int]
    ) -> list[list[SlotKeyphrase]]:
        """Each row's keyphrases: every slot decoded greedily for `max_len` steps (<eos>
        included), ∅ slots dropped, ordered by `config.ranking`."""
        steps = self._greedy(batch, encoded, max_len, blocked_ids)
        log_probs = torch.stack([lp for lp, _ in steps], dim=2)  # (B, N, T, V_ext)
        attention = torch.stack([a for _, a in steps], dim=2)  # (B, N, T, L)
        best, tokens = log_probs.max(dim=-1)  # (B, N, T)
        rows = []
        for row in range(batch.size):
            found = []
            for slot in range(self.config.num_slots):
                ids = tokens[row, slot].tolist()
                length = ids.index(EOS_ID) if EOS_ID in ids else len(ids)
                if length == 0:  # ∅
                    continue
                scored = min(length + 1, len(ids))  # the <eos> counts when there is one
                score = float(best[row, slot, :scored].mean())
                found.append(
                    SlotKeyphrase(tuple(ids[:length]), score, attention[row, slot, :length], slot)
                )
            if self.config.ranking == "score":
                found.sort(key=lambda kp: -kp.score)
            rows.append(found)
        return rows

    # The package's search does not drive One2Set (`search_keyphrases` replaces it), but a
    # generator keeps the protocol's two methods (`step` is the shared one): one slot row per
    # (post, slot).
    def init_decoder_state(self, batch: Batch, encoded: Encoded) -> DecoderState:
        return self._slot_state(batch, encoded)


def build_one2set(
    config: ModelConfig,
    vocab: Vocab,
    labels: LabelSet,
    embeddings: PretrainedEmbeddings | None = None,
) -> One2Set:
    """A freshly initialised One2Set for the vocabulary (it has no use for the labels)."""
    assert isinstance(config, One2SetConfig)
    return One2Set(config, vocab_size=len(vocab), embeddings=embeddings)
