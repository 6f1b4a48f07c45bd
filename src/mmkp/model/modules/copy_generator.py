"""Copy generator (eq. 10-14) and the generation loss (eq. 19).

With x_j = [e(y_{j-1}); s_j; c_j + H_f] at decoding step j:

    p_p   = softmax(W_o x_j + b_o)                                over the vocabulary  (eq. 10)
            (option `hidden`: softmax(W_o tanh(W_h x_j + b_h) + b_o), an extra layer;
            option `output_ids`: over those words only, the rest reachable by copying)
    p_a   = sum_i alpha_ji [x_i = w]                               copy from X_T        (eq. 11)
    beta  = the copy distribution over the words of the classifier's top-k labels  (eq. 12)
            `word_softmax`: softmax over the labels' word entries, each carrying its
            label's logit (the paper's word-level beta); `split`: softmax over the k labels,
            each label's share split evenly over its words. Beyond the paper, the same slot
            takes the keyphrases of the post's nearest training posts, each by its normalised
            neighbour vote (`voted_copy`), alone or with the classifier's (`combine`)
    p_c   = lambda_c p_a + (1 - lambda_c) beta                     (eq. 13)
            lambda_c a fixed hyper-parameter (`copy_lambda`), or learned:
            sigmoid(w_c^T x_j + b_c)
    lambda   = sigmoid(w_g^T x_j + b_g)
    P(w)  = lambda p_p(w) + (1 - lambda) p_c(w)                    over V_ext          (eq. 14)

Each of p_p, p_a, beta sums to one and the mixture weights are convex, so P sums to one over
the extended vocabulary (a row whose beta is empty, e.g. a post without neighbours, gives
beta's share to p_a) (the public code adds beta on top of lambda p_p + (1 - lambda) p_a,
which sums to 2 - lambda; we do not). Source OOV words have extended ids >= |V| and are
reachable only by copying. Without the classifier copy, p_c = p_a.

Loss (eq. 19): L_gen = -sum_j log P(y_j) over the target tokens of a row, averaged over the
rows that have a target. Beyond the paper, `label_smoothing` eps replaces log P(y_j) by
(1 - eps) log P(y_j) + eps mean_w log p_p(w): the cross-entropy against a target smoothed over
p_p's words (the copy distributions are not smoothed; eps 0 is the paper's loss, bit for bit).
Training asks the generator for log P at the targets only
(`targets=`, `target_loss`): the same numbers, bit for bit, without building P over the
extended vocabulary. Inference computes log P only where P can be non-zero, the ids p_p
covers and the row's copied ids (`support`, `mmkp.model.modules.support`): the same numbers
there, log(EPS) everywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from mmkp.data.vocab import PAD_ID
from mmkp.model.modules.support import Support, SupportLogProbs, support

EPS = 1e-12  # floor before the log: words no part of the mixture can produce get log(EPS)


@dataclass
class LabelCopy:
    ids: torch.Tensor  # (B, W) vocab ids of the top-k labels' words (PAD_ID where none)
    weights: torch.Tensor  # (B, W) p_k over those words, each row sums to one (or is all 0)


LabelCopyForm = Literal["split", "word_softmax"]


def label_copy(
    logits: torch.Tensor, label_word_ids: torch.Tensor, top_k: int, form: LabelCopyForm = "split"
) -> LabelCopy:
    """beta: logits (B, N) of the classifier, label_word_ids (N, K) -> LabelCopy (W = k * K).

    `split`: the k most probable labels share the mass by the softmax of their logits, and a
    label's mass is split evenly over its words. `word_softmax` (the paper's word-level beta,
    as its public code builds it): every word of the k labels is one entry carrying its
    label's logit, and one softmax runs over all entries (a label of n words gets n shares).
    """
    top = logits.topk(min(top_k, logits.size(1)), dim=-1)  # values, indices (B, k)
    words = label_word_ids[top.indices]  # (B, k, K)
    real = words != PAD_ID  # (B, k, K)
    if form == "split":
        share = torch.softmax(top.values, dim=-1) / real.sum(-1).clamp_min(1)  # (B, k)
        weights = share.unsqueeze(-1) * real  # (B, k, K)
    else:
        entries = top.values.unsqueeze(-1).expand_as(words).masked_fill(~real, float("-inf"))
        weights = torch.softmax(entries.flatten(1), dim=-1).view_as(entries)  # (B, k, K)
    return LabelCopy(ids=words.flatten(1), weights=weights.flatten(1))


def voted_copy(
    label_ids: torch.Tensor, votes: torch.Tensor, label_word_ids: torch.Tensor
) -> LabelCopy:
    """beta from retrieval: label_ids (B, m) of the neighbours' keyphrases (negative: none),
    votes (B, m) summing to 1 per row, label_word_ids (N, K) -> LabelCopy (W = m * K), each
    label's vote split evenly over its words."""
    words = label_word_ids[label_ids.clamp_min(0)]  # (B, m, K)
    real = (words != PAD_ID) & (label_ids >= 0).unsqueeze(-1)  # (B, m, K)
    share = votes / real.sum(-1).clamp_min(1)  # (B, m)
    return LabelCopy(ids=words.flatten(1), weights=(share.unsqueeze(-1) * real).flatten(1))


def combine(sources: list[LabelCopy]) -> LabelCopy:
    """Several copy sources as one beta, each non-empty source of a row weighted equally."""
    if len(sources) == 1:
        return sources[0]
    present = torch.stack([s.weights.sum(-1) > 0 for s in sources], -1).float()  # (B, S)
    share = present / present.sum(-1, keepdim=True).clamp_min(1)  # (B, S)
    weights = [s.weights * share[:, i : i + 1] for i, s in enumerate(sources)]
    return LabelCopy(ids=torch.cat([s.ids for s in sources], 1), weights=torch.cat(weights, 1))


class CopyGenerator(nn.Module):
    """`classifier_copy`: the copy slot beta exists (labels of the classifier or of the
    neighbours). `hidden`: p_p goes through a tanh layer of width `size` (W_o tanh(W_h x_j));
    without it p_p = softmax(W_o x_j + b_o), eq. 10 as the paper writes it. `output_ids`:
    the distinct vocabulary ids p_p covers (a target vocabulary; None: all `vocab_size`).
    `copy_lambda`: a fixed lambda_c (the paper's hyper-parameter); None learns it,
    sigmoid(w_c^T x_j + b_c). `label_smoothing`: eps of the loss at the targets (module doc)."""

    def __init__(
        self,
        features: int,
        size: int,
        vocab_size: int,
        dropout: float,
        *,
        classifier_copy: bool,
        hidden: bool = True,
        copy_lambda: float | None = None,
        output_ids: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
    ):
        super().__init__()
        self.vocab_size = vocab_size
        self.label_smoothing = label_smoothing
        self.hidden = nn.Linear(features, size) if hidden else None
        self.dropout = nn.Dropout(dropout)
        outputs = vocab_size if output_ids is None else len(output_ids)
        self.out = nn.Linear(size if hidden else features, outputs)
        # The vocabulary ids p_p covers (None: all, in order); rebuilt with the model.
        self.register_buffer(
            "output_ids", None if output_ids is None else output_ids.long(), persistent=False
        )
        # Each vocabulary id's column of p_p, -1 where p_p does not cover it (training reads
        # p_p at the targets only).
        slots = None
        if output_ids is not None:
            slots = torch.full((vocab_size,), -1, dtype=torch.long)
            slots[output_ids.long()] = torch.arange(len(output_ids))
        self.register_buffer("output_slots", slots, persistent=False)
        self.switch = nn.Linear(features, 1)  # lambda
        learned = classifier_copy and copy_lambda is None
        self.copy_switch = nn.Linear(features, 1) if learned else None  # lambda_c
        self.copy_lambda = copy_lambda if classifier_copy else None

    def forward(
        self,
        features: torch.Tensor,
        attention: torch.Tensor,
        src_ext_ids: torch.Tensor,
        ext_size: int,
        labels: LabelCopy | None,
        targets: torch.Tensor | None = None,
        support: Support | None = None,
    ) -> torch.Tensor:
        """x_j (B, T, F), alpha (B, T, L), src_ext_ids (B, L), V_ext, p_k -> log P (B, T, V_ext);
        with `targets` (B, T) extended ids, log P at those ids only (smoothed with
        `label_smoothing`, module doc): (B, T, 1); with `support`
        (this batch's `self.support(...)`, inference only), log P at its ids: (B, T, S)."""
        batch, steps, _ = features.shape
        hidden = features if self.hidden is None else torch.tanh(self.hidden(features))
        logits = self.out(self.dropout(hidden))
        vocab = torch.softmax(logits, -1)  # p_p (eq. 10)
        switch = torch.sigmoid(self.switch(features))  # (B, T, 1) lambda
        source_share = 1.0 - switch  # (B, T, 1)
        shares: list[torch.Tensor] = []  # the copied ids' shares, labels first
        if self._copies_labels(labels):
            assert labels is not None
            copy_source = (  # (B, T, 1) lambda_c
                torch.sigmoid(self.copy_switch(features))
                if self.copy_switch is not None
                else torch.full_like(switch, self.copy_lambda)
            )
            # 1 where the row has labels to copy, else 0: beta's share goes back to p_a
            has_labels = (labels.weights.sum(-1) > 0).to(features.dtype)[:, None, None]
            label_share = source_share * (1.0 - copy_source) * has_labels
            source_share = source_share * torch.where(has_labels > 0, copy_source, 1.0)
            shares.append(label_share * labels.weights.unsqueeze(1))
        shares.append(source_share * attention)
        # One scatter for both copy sources: per target word the additions run in the same
        # order as two scatters (labels first, then X_T), so the sums are the same.
        copy_shares = torch.cat(shares, 2)  # (B, T, W + L)
        copy_ids = self._copy_ids(src_ext_ids, labels)  # (B, W + L)
        if targets is not None:
            copy_ids = copy_ids.unsqueeze(1).expand(-1, steps, -1)
            at_targets = self._at_targets(switch, vocab, copy_ids, copy_shares, targets)
            if not self.label_smoothing:
                return at_targets
            uniform = logits.log_softmax(-1).mean(-1, keepdim=True)  # mean_w log p_p(w)
            return (1.0 - self.label_smoothing) * at_targets + self.label_smoothing * uniform
        if torch.is_grad_enabled():
            probs = features.new_zeros(batch, steps, ext_size)
            if self.output_ids is None:
                probs[..., : self.vocab_size] = switch * vocab  # lambda p_p
            else:
                probs[..., self.output_ids] = switch * vocab
            copy_ids = copy_ids.unsqueeze(1).expand(-1, steps, -1)
            return probs.scatter_add_(2, copy_ids, copy_shares).clamp_min(EPS).log()
        # Inference: log P only where it can be non-zero (module `support`): the extended
        # vocabulary is ~3.5x the support, and the log is the costliest pass over it. (The
        # in-place clamp and log would not let autograd through: training takes the above.)
        own = support if support is not None else self.support(src_ext_ids, labels, ext_size)
        values = features.new_zeros(batch, steps, own.ids.size(1))
        covered = vocab.size(-1)
        slots = own.slots.unsqueeze(1).expand(-1, steps, -1)  # (B, T, O + W + L)
        values.scatter_(2, slots[..., :covered], switch * vocab)  # lambda p_p
        values = values.scatter_add_(2, slots[..., covered:], copy_shares).clamp_min_(EPS).log_()
        if support is not None:
            return values
        rows = SupportLogProbs(values.view(batch * steps, -1), own.ids, ext_size, LOG_EPS)
        return rows.dense().view(batch, steps, ext_size)

    def support(
        self, src_ext_ids: torch.Tensor, labels: LabelCopy | None, ext_size: int
    ) -> Support:
        """Where P can be non-zero for each row of src_ext_ids (B, L) and `labels`: the ids
        p_p covers and the row's copied ids (computed once per batch when decoding)."""
        covered = self.output_ids
        if covered is None:
            covered = torch.arange(self.vocab_size, device=src_ext_ids.device)
        return support(covered, self._copy_ids(src_ext_ids, labels), ext_size)

    def _copies_labels(self, labels: LabelCopy | None) -> bool:
        return labels is not None and (self.copy_switch is not None or self.copy_lambda is not None)

    def _copy_ids(self, src_ext_ids: torch.Tensor, labels: LabelCopy | None) -> torch.Tensor:
        """(B, W + L) the copied ids in the scatter's order: label words first, then X_T."""
        if self._copies_labels(labels):
            assert labels is not None
            return torch.cat([labels.ids, src_ext_ids], 1)
        return src_ext_ids

    def _at_targets(
        self,
        switch: torch.Tensor,
        vocab: torch.Tensor,
        copy_ids: torch.Tensor,
        shares: torch.Tensor,
        targets: torch.Tensor,
    ) -> torch.Tensor:
        """log P at the targets (B, T) -> (B, T, 1), bit for bit what the full mixture gives
        there, without the (B, T, V_ext) tensor: lambda p_p of the target (0 where p_p does
        not cover it), then the target's copy shares added in the order the full scatter adds
        them (the others go to a second slot that is thrown away)."""
        in_vocab = targets < self.vocab_size
        word = targets.clamp_max(self.vocab_size - 1)  # (B, T) a valid id for the lookups
        if self.output_slots is None:
            slot = word
        else:
            slot = self.output_slots[word]
            in_vocab = in_vocab & (slot >= 0)
        own = vocab.gather(2, slot.clamp_min(0).unsqueeze(-1))  # (B, T, 1)
        start = torch.where(in_vocab.unsqueeze(-1), switch * own, 0.0)  # (B, T, 1)
        buffer = torch.cat([start, torch.zeros_like(start)], 2)  # (B, T, 2)
        other = (copy_ids != targets.unsqueeze(-1)).long()  # 0: the target, 1: thrown away
        probs = buffer.scatter_add(2, other, shares)[..., :1]  # (B, T, 1)
        return probs.clamp_min(EPS).log()


# log(EPS) as the vectorised log of the full pass computes it (a one-element log may take
# the scalar path, which can differ in the last bit)
LOG_EPS = float(torch.full((64,), EPS).log()[0])


def generation_loss(
    log_probs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """L_gen (eq. 19): log P (B, T, V_ext), targets (B, T) extended ids, mask (B, T) bool ->
    the token NLL summed over each row's target, averaged over the rows that have a target
    (keyphrase-less rows, e.g. TRC pairs or unlabelled posts, must not shrink it); 0, still
    attached to the graph, when no row has one."""
    return target_loss(log_probs.gather(2, targets.unsqueeze(-1)), mask)


def target_loss(target_log_probs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L_gen from log P at the targets only, (B, T, 1) (`CopyGenerator(..., targets=)`), as
    `generation_loss`."""
    nll = -target_log_probs.squeeze(-1)  # (B, T)
    rows = mask.any(dim=1)  # (B,)
    if not rows.any():
        return target_log_probs.sum() * 0.0
    return (nll * mask).sum(dim=1)[rows].mean()
