"""The copy mixture (eq. 10-14): exact values, sum to one over the extended vocabulary."""

from __future__ import annotations

import math

import torch

from mmkp.model.modules.copy_generator import (
    LOG_EPS,
    CopyGenerator,
    LabelCopy,
    combine,
    generation_loss,
    label_copy,
    target_loss,
    voted_copy,
)
from mmkp.model.modules.support import SupportLogProbs


def test_label_copy_splits_keyphrase_mass_over_words():
    logits = torch.tensor([[0.0, math.log(3.0), -50.0]])  # top-2: label 1 (0.75), label 0 (0.25)
    words = torch.tensor([[7, 0, 0], [8, 9, 0], [5, 0, 0]])
    copy = label_copy(logits, words, top_k=2)
    assert copy.ids.tolist() == [[8, 9, 0, 7, 0, 0]]
    torch.testing.assert_close(copy.weights, torch.tensor([[0.375, 0.375, 0.0, 0.25, 0.0, 0.0]]))


def test_word_softmax_gives_every_word_of_a_label_its_label_logit():
    """The paper's word-level beta: one softmax over the top-k labels' word entries, each
    carrying its label's logit (a two-word label gets two shares)."""
    logits = torch.tensor([[0.0, math.log(3.0), -50.0]])
    words = torch.tensor([[7, 0, 0], [8, 9, 0], [5, 0, 0]])
    copy = label_copy(logits, words, top_k=2, form="word_softmax")
    assert copy.ids.tolist() == [[8, 9, 0, 7, 0, 0]]
    torch.testing.assert_close(copy.weights, torch.tensor([[3 / 7, 3 / 7, 0.0, 1 / 7, 0.0, 0.0]]))


def test_fixed_lambda_c_and_no_hidden_layer_still_sum_to_one():
    """The paper's form: p_p = softmax(W_o x_j + b_o) (eq. 10), lambda_c a fixed number."""
    torch.manual_seed(0)
    generator = CopyGenerator(6, 4, 10, 0.0, classifier_copy=True, hidden=False, copy_lambda=0.3)
    assert generator.hidden is None and generator.copy_switch is None
    features = torch.randn(1, 2, 6)
    attention = torch.tensor([[[1.0, 0.0], [0.25, 0.75]]])
    labels = LabelCopy(ids=torch.tensor([[3, 4]]), weights=torch.tensor([[0.5, 0.5]]))
    log_probs = generator(features, attention, torch.tensor([[10, 3]]), 11, labels)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(1, 2))
    switch = torch.sigmoid(generator.switch(features))[0, :, 0]
    # The OOV source word 10 gets (1 - lambda) * lambda_c * alpha, lambda_c = 0.3.
    torch.testing.assert_close(log_probs[0, :, 10].exp(), (1 - switch) * 0.3 * attention[0, :, 0])
    vocab = torch.softmax(generator.out(features), -1)[0]
    expected = switch * vocab[:, 4] + (1 - switch) * 0.7 * 0.5  # label word 4 only
    torch.testing.assert_close(log_probs[0, :, 4].exp(), expected)


def _generator(classifier_copy: bool) -> CopyGenerator:
    torch.manual_seed(0)
    return CopyGenerator(6, 4, 10, 0.0, classifier_copy=classifier_copy)


def test_mixture_sums_to_one_including_oov_and_label_words():
    generator = _generator(classifier_copy=True)
    features = torch.randn(2, 3, 6)
    attention = torch.softmax(torch.randn(2, 3, 4), -1)
    src_ext_ids = torch.tensor([[5, 10, 11, 5], [12, 6, 0, 0]])  # 10..12: source OOV words
    attention = attention * (src_ext_ids != 0).unsqueeze(1)
    attention = attention / attention.sum(-1, keepdim=True)
    labels = LabelCopy(
        ids=torch.tensor([[3, 4], [9, 0]]), weights=torch.tensor([[0.5, 0.5], [1.0, 0.0]])
    )
    log_probs = generator(features, attention, src_ext_ids, 13, labels)
    assert log_probs.shape == (2, 3, 13)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(2, 3))
    # An OOV word gets exactly its copy mass: (1 - lambda) * lambda_c * alpha.
    switch = torch.sigmoid(generator.switch(features))[..., 0]
    copy_source = torch.sigmoid(generator.copy_switch(features))[..., 0]
    expected = (1 - switch[0]) * copy_source[0] * attention[0, :, 1]
    torch.testing.assert_close(log_probs[0, :, 10].exp(), expected)
    # A label word also gets (1 - lambda)(1 - lambda_c) * its label weight on top of p_p.
    vocab = torch.softmax(generator.out(torch.tanh(generator.hidden(features))), -1)
    expected = switch[1] * vocab[1, :, 9] + (1 - switch[1]) * (1 - copy_source[1])
    torch.testing.assert_close(log_probs[1, :, 9].exp(), expected)


def test_without_classifier_copy_the_source_takes_all_copy_mass():
    generator = _generator(classifier_copy=False)
    assert generator.copy_switch is None
    features = torch.randn(1, 2, 6)
    attention = torch.tensor([[[1.0, 0.0], [0.25, 0.75]]])
    log_probs = generator(features, attention, torch.tensor([[10, 3]]), 11, None)
    switch = torch.sigmoid(generator.switch(features))[0, :, 0]
    torch.testing.assert_close(log_probs[0, :, 10].exp(), (1 - switch) * attention[0, :, 0])
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(1, 2))


def test_generation_loss_sums_tokens_and_averages_rows():
    log_probs = torch.log(torch.tensor([[[0.5, 0.5], [0.25, 0.75]], [[0.1, 0.9], [0.5, 0.5]]]))
    targets = torch.tensor([[0, 1], [1, 0]])
    mask = torch.tensor([[True, True], [True, False]])
    expected = (-math.log(0.5) - math.log(0.75) - math.log(0.9)) / 2
    assert math.isclose(generation_loss(log_probs, targets, mask).item(), expected, rel_tol=1e-6)


def test_generation_loss_averages_only_rows_with_a_target():
    """One keyphrase-less row (a TRC pair, an unlabelled post) among four must not shrink
    L_gen to 0.75x: it is the mean over the three rows that have a target."""
    torch.manual_seed(0)
    log_probs = torch.log_softmax(torch.randn(4, 3, 6), dim=-1).requires_grad_()
    targets = torch.tensor([[1, 2, 0], [3, 0, 0], [4, 5, 1], [0, 0, 0]])
    mask = targets != 0
    full = generation_loss(log_probs, targets, mask)
    labelled = generation_loss(log_probs[:3], targets[:3], mask[:3])
    torch.testing.assert_close(full, labelled)
    none = generation_loss(log_probs, targets, torch.zeros_like(mask))
    assert none.item() == 0.0
    none.backward()  # still attached to the graph: a batch of such rows trains nothing
    assert log_probs.grad is not None and not log_probs.grad.any()


def test_voted_copy_splits_each_vote_over_its_label_words():
    words = torch.tensor([[7, 0], [8, 9], [5, 0]])  # label word ids, 0 = <pad>
    copy = voted_copy(
        torch.tensor([[1, 0], [2, -100]]), torch.tensor([[0.6, 0.4], [1.0, 0.0]]), words
    )
    assert copy.ids.tolist() == [[8, 9, 7, 0], [5, 0, 7, 0]]
    torch.testing.assert_close(
        copy.weights, torch.tensor([[0.3, 0.3, 0.4, 0.0], [1.0, 0.0, 0.0, 0.0]])
    )


def test_combined_sources_share_equally_and_an_empty_one_gives_way():
    classifier = LabelCopy(torch.tensor([[3], [4]]), torch.tensor([[1.0], [1.0]]))
    neighbours = LabelCopy(torch.tensor([[5, 6], [5, 6]]), torch.tensor([[0.5, 0.5], [0.0, 0.0]]))
    both = combine([classifier, neighbours])
    assert both.ids.tolist() == [[3, 5, 6], [4, 5, 6]]
    torch.testing.assert_close(both.weights, torch.tensor([[0.5, 0.25, 0.25], [1.0, 0.0, 0.0]]))


def test_a_row_without_neighbours_gives_its_label_share_to_the_source():
    """The neighbour copy of a post no training post resembles is empty: P still sums to
    one, the source copy taking beta's share."""
    generator = _generator(classifier_copy=True)
    features = torch.randn(2, 2, 6)
    attention = torch.tensor([[[1.0, 0.0], [0.5, 0.5]]] * 2)
    labels = LabelCopy(torch.tensor([[3, 4], [3, 4]]), torch.tensor([[0.5, 0.5], [0.0, 0.0]]))
    log_probs = generator(features, attention, torch.tensor([[10, 2], [10, 2]]), 11, labels)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(2, 2))
    switch = torch.sigmoid(generator.switch(features))[1, :, 0]
    torch.testing.assert_close(log_probs[1, :, 10].exp(), (1 - switch) * attention[1, :, 0])


def test_a_target_vocabulary_puts_p_p_on_its_words_only():
    torch.manual_seed(0)
    generator = CopyGenerator(
        6, 4, 10, 0.0, classifier_copy=False, output_ids=torch.tensor([0, 2, 7])
    )
    assert generator.out.out_features == 3
    features = torch.randn(1, 2, 6)
    attention = torch.tensor([[[1.0, 0.0], [0.25, 0.75]]])
    probs = generator(features, attention, torch.tensor([[10, 3]]), 11, None).exp()
    torch.testing.assert_close(probs.sum(-1), torch.ones(1, 2))
    switch = torch.sigmoid(generator.switch(features))[0, :, 0]
    torch.testing.assert_close(probs[0, :, 5], torch.full((2,), 1e-12))  # neither output nor copied
    torch.testing.assert_close(probs[0, :, 3], (1 - switch) * attention[0, :, 1])  # copy only
    torch.testing.assert_close(probs[0, :, [0, 2, 7]].sum(-1), switch)


def test_output_ids_are_the_frequent_words_and_every_label_word():
    from mmkp.model.mmkp.model import output_ids

    labels = torch.tensor([[9, 0], [6, 12]])
    assert output_ids(labels, 5).tolist() == [0, 1, 2, 3, 4, 6, 9, 12]


def _grads(generator: CopyGenerator) -> list[torch.Tensor]:
    return [p.grad.clone() for p in generator.parameters() if p.grad is not None]


def test_log_probs_at_targets_are_the_full_mixtures_bit_for_bit():
    """Training's path (`targets=`) gives exactly the full log P at the targets, and exactly
    its gradients: repeated copied words, OOV targets, words p_p does not cover."""
    torch.manual_seed(3)
    for output_ids in (None, torch.tensor([0, 2, 3, 7, 9])):
        generator = CopyGenerator(6, 4, 10, 0.0, classifier_copy=True, output_ids=output_ids)
        features = torch.randn(2, 4, 6)
        attention = torch.softmax(torch.randn(2, 4, 5), -1)
        src_ext_ids = torch.tensor([[5, 10, 5, 3, 11], [12, 6, 6, 0, 4]])
        labels = LabelCopy(
            ids=torch.tensor([[3, 4, 5], [9, 0, 6]]),
            weights=torch.tensor([[0.5, 0.25, 0.25], [0.7, 0.0, 0.3]]),
        )
        targets = torch.tensor([[5, 10, 8, 3], [6, 12, 0, 2]])
        full = generator(features, attention, src_ext_ids, 13, labels)
        expected = full.gather(2, targets.unsqueeze(-1))
        generation_loss(full, targets, torch.ones(2, 4, dtype=torch.bool)).backward()
        full_grads = _grads(generator)
        generator.zero_grad()
        found = generator(features, attention, src_ext_ids, 13, labels, targets)
        assert found.shape == (2, 4, 1) and torch.equal(found, expected)
        target_loss(found, torch.ones(2, 4, dtype=torch.bool)).backward()
        assert all(torch.equal(a, b) for a, b in zip(_grads(generator), full_grads, strict=True))


def test_inference_log_probs_are_trainings_bit_for_bit_on_the_support_or_not():
    """Without autograd log P is computed on the support only (`support`): the dense result
    is training's full mixture bit for bit, and the support form holds the same values."""
    torch.manual_seed(4)
    for output_ids in (None, torch.tensor([0, 2, 3, 7, 9])):
        generator = CopyGenerator(6, 4, 10, 0.0, classifier_copy=True, output_ids=output_ids)
        features = torch.randn(2, 3, 6)
        attention = torch.softmax(torch.randn(2, 3, 5), -1)
        src_ext_ids = torch.tensor([[5, 10, 5, 3, 11], [12, 6, 6, 0, 4]])
        labels = LabelCopy(
            ids=torch.tensor([[3, 4, 5], [9, 0, 6]]),
            weights=torch.tensor([[0.5, 0.25, 0.25], [0.7, 0.0, 0.3]]),
        )
        full = generator(features, attention, src_ext_ids, 13, labels).detach()
        with torch.no_grad():
            assert torch.equal(generator(features, attention, src_ext_ids, 13, labels), full)
            support = generator.support(src_ext_ids, labels, 13)
            values = generator(features, attention, src_ext_ids, 13, labels, support=support)
        rows = SupportLogProbs(values.view(6, -1), support.ids, 13, LOG_EPS)
        assert torch.equal(rows.dense().view(2, 3, 13), full)
        off = torch.ones(2, 14, dtype=torch.bool).scatter_(1, support.ids, False)[:, :13]
        assert (full[off.unsqueeze(1).expand(-1, 3, -1)] == LOG_EPS).all()


def test_label_smoothing_mixes_the_target_with_the_mean_log_p_p_and_zero_is_exact():
    """eps 0.1: (1 - eps) log P(y) + eps mean_w log p_p(w) at each target; the loss is its
    masked negative sum and trains p_p towards uniform; eps 0 leaves log P unchanged."""
    torch.manual_seed(4)
    plain = CopyGenerator(6, 4, 10, 0.0, classifier_copy=False, output_ids=torch.tensor([0, 2, 7]))
    smoothed = CopyGenerator(
        6,
        4,
        10,
        0.0,
        classifier_copy=False,
        output_ids=torch.tensor([0, 2, 7]),
        label_smoothing=0.1,
    )
    smoothed.load_state_dict(plain.state_dict())
    features = torch.randn(1, 2, 6)
    attention = torch.tensor([[[1.0, 0.0], [0.25, 0.75]]])
    src, targets = torch.tensor([[10, 3]]), torch.tensor([[2, 3]])
    at = plain(features, attention, src, 11, None, targets)
    full = plain(features, attention, src, 11, None)
    assert torch.equal(at, full.gather(2, targets.unsqueeze(-1)))
    hidden = torch.tanh(plain.hidden(features))
    p_p = torch.softmax(plain.out(hidden), -1)  # over words 0, 2, 7
    expected = 0.9 * at + 0.1 * p_p.log().mean(-1, keepdim=True)
    found = smoothed(features, attention, src, 11, None, targets)
    torch.testing.assert_close(found, expected)
    mask = torch.tensor([[True, False]])  # the second step is padding: not in the loss
    loss = target_loss(found, mask)
    torch.testing.assert_close(loss, -expected[0, 0, 0])
    loss.backward()
    assert smoothed.out.weight.grad.abs().sum() > 0
