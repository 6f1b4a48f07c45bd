"""Copy generator (eq. 10-14) and the generation loss (eq. 19).

With x_j = [e(y_{j-1}); s_j; c_j + H_f] at decoding step j:

    p_p   = softmax(W_o tanh(W_h x_j + b_h) + b_o)                over the vocabulary  (eq. 10)
    p_a   = sum_i alpha_ji [x_i = w]                               copy from X_T        (eq. 11)
    p_k   = sum_k softmax(z_topk)_k / |kp_k| * [w in kp_k]         copy from the words of the
                                                                   classifier's top-k labels
    lambda_c = sigmoid(w_c^T x_j + b_c)                            (eq. 12)
    p_c   = lambda_c p_a + (1 - lambda_c) p_k                      (eq. 13)
    lambda   = sigmoid(w_g^T x_j + b_g)
    P(w)  = lambda p_p(w) + (1 - lambda) p_c(w)                    over V_ext          (eq. 14)

Each of p_p, p_a, p_k sums to one and the mixture weights are convex, so P sums to one over
the extended vocabulary (the public code adds p_k on top of lambda p_p + (1 - lambda) p_a,
which sums to 2 - lambda; we do not). Source OOV words have extended ids >= |V| and are
reachable only by copying. Without the classifier copy, p_c = p_a.

Loss (eq. 19): L_gen = -sum_j log P(y_j) over the target tokens of a row, averaged over rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from mmkp.data.vocab import PAD_ID

EPS = 1e-12  # floor before the log: words no part of the mixture can produce get log(EPS)


@dataclass
class LabelCopy:
    ids: torch.Tensor  # (B, W) vocab ids of the top-k labels' words (PAD_ID where none)
    weights: torch.Tensor  # (B, W) p_k over those words, each row sums to one


def label_copy(logits: torch.Tensor, label_word_ids: torch.Tensor, top_k: int) -> LabelCopy:
    """p_k: logits (B, N) of the classifier, label_word_ids (N, K) -> LabelCopy (W = k * K).

    The k most probable labels share the mass by the softmax of their logits; a label's mass
    is split evenly over its words.
    """
    top = logits.topk(min(top_k, logits.size(1)), dim=-1)  # values, indices (B, k)
    words = label_word_ids[top.indices]  # (B, k, K)
    real = words != PAD_ID  # (B, k, K)
    share = torch.softmax(top.values, dim=-1) / real.sum(-1).clamp_min(1)  # (B, k)
    weights = share.unsqueeze(-1) * real  # (B, k, K)
    return LabelCopy(ids=words.flatten(1), weights=weights.flatten(1))


class CopyGenerator(nn.Module):
    def __init__(
        self, features: int, size: int, vocab_size: int, dropout: float, *, classifier_copy: bool
    ):
        super().__init__()
        self.vocab_size = vocab_size
        self.hidden = nn.Linear(features, size)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(size, vocab_size)
        self.switch = nn.Linear(features, 1)  # lambda
        self.copy_switch = nn.Linear(features, 1) if classifier_copy else None  # lambda_c

    def forward(
        self,
        features: torch.Tensor,
        attention: torch.Tensor,
        src_ext_ids: torch.Tensor,
        ext_size: int,
        labels: LabelCopy | None,
    ) -> torch.Tensor:
        """x_j (B, T, F), alpha (B, T, L), src_ext_ids (B, L), V_ext, p_k -> log P (B, T, V_ext)."""
        batch, steps, _ = features.shape
        vocab = torch.softmax(self.out(self.dropout(torch.tanh(self.hidden(features)))), -1)
        switch = torch.sigmoid(self.switch(features))  # (B, T, 1) lambda
        probs = features.new_zeros(batch, steps, ext_size)
        probs[..., : self.vocab_size] = switch * vocab  # lambda p_p
        source_share = 1.0 - switch  # (B, T, 1)
        if self.copy_switch is not None and labels is not None:
            copy_source = torch.sigmoid(self.copy_switch(features))  # (B, T, 1) lambda_c
            label_share = source_share * (1.0 - copy_source)
            source_share = source_share * copy_source
            label_ids = labels.ids.unsqueeze(1).expand(-1, steps, -1)  # (B, T, W)
            probs = probs.scatter_add(2, label_ids, label_share * labels.weights.unsqueeze(1))
        src_ids = src_ext_ids.unsqueeze(1).expand(-1, steps, -1)  # (B, T, L)
        probs = probs.scatter_add(2, src_ids, source_share * attention)
        return probs.clamp_min(EPS).log()


def generation_loss(
    log_probs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """L_gen (eq. 19): log P (B, T, V_ext), targets (B, T) extended ids, mask (B, T) bool ->
    the token NLL summed over each row's target, averaged over the rows that have a target
    (keyphrase-less rows, e.g. TRC pairs or unlabelled posts, must not shrink it); 0, still
    attached to the graph, when no row has one."""
    nll = -log_probs.gather(2, targets.unsqueeze(-1)).squeeze(-1)  # (B, T)
    rows = mask.any(dim=1)  # (B,)
    if not rows.any():
        return log_probs.sum() * 0.0
    return (nll * mask).sum(dim=1)[rows].mean()
