"""The package's TF-IDF is scikit-learn's TfidfVectorizer bit for bit: the same vocabulary,
rows (values, column order) and similarities, so neighbours and trained models stand."""

from __future__ import annotations

import numpy as np
import pytest

from mmkp.data.neighbours import TfidfIndex, TfidfOptions, content_tokens
from mmkp.data.tfidf import TfidfVectors

DOCUMENTS = [
    "the cat sat on the mat <seg> cat cat",
    "a dog ; chased the cat",
    "stock market falls <seg> market crash market",
    "!!! ???",  # no content word
    "the quick brown fox jumps over the lazy dog the end",
    "zebra apple mango apple zebra zebra",
]
QUERIES = ["cat and dog", "market news", "nothing known here", "", "apple apple zebra"]


@pytest.mark.parametrize(("sublinear_tf", "min_df"), [(True, 1), (False, 1), (True, 2)])
def test_rows_and_vocabulary_are_scikit_learns_bit_for_bit(sublinear_tf: bool, min_df: int):
    text = pytest.importorskip("sklearn.feature_extraction.text")
    reference = text.TfidfVectorizer(
        analyzer=content_tokens, sublinear_tf=sublinear_tf, min_df=min_df, norm="l2"
    )
    ours = TfidfVectors(content_tokens, sublinear_tf=sublinear_tf, min_df=min_df)
    for mine, theirs in (
        (ours.fit_transform(DOCUMENTS), reference.fit_transform(DOCUMENTS)),
        (ours.transform(QUERIES), reference.transform(QUERIES)),
    ):
        assert mine.shape == theirs.shape
        np.testing.assert_array_equal(mine.indptr, theirs.indptr)
        np.testing.assert_array_equal(mine.indices, theirs.indices)  # the same order too
        np.testing.assert_array_equal(mine.data, theirs.data)
    assert ours.vocabulary == {term: int(i) for term, i in reference.vocabulary_.items()}
    np.testing.assert_array_equal(ours.idf, reference.idf_)


def test_known_values():
    vectors = TfidfVectors(str.split, sublinear_tf=False)
    rows = vectors.fit_transform(["a a b", "b"]).toarray()
    # vocabulary a, b; idf(a) = ln(3/2) + 1, idf(b) = ln(3/3) + 1 = 1
    idf_a = np.log(1.5) + 1
    np.testing.assert_allclose(vectors.idf, [idf_a, 1.0])
    first = np.array([2 * idf_a, 1.0])
    np.testing.assert_allclose(rows, [first / np.linalg.norm(first), [0.0, 1.0]])
    assert vectors.transform(["c", "b b"]).toarray().tolist() == [[0.0, 0.0], [0.0, 1.0]]
    with pytest.raises(ValueError, match="empty vocabulary"):
        TfidfVectors(str.split).fit_transform(["", " "])


def test_an_index_without_terms_finds_nothing():
    index = TfidfIndex(["!!!", "???"], TfidfOptions())
    assert index.similarities(["cat"]).tolist() == [[0.0, 0.0]]


def test_a_second_fit_forgets_the_first_vocabulary():
    vectors = TfidfVectors(str.split)
    vectors.fit_transform(["old words here"])
    vectors.fit_transform(["new text"])
    assert vectors.vocabulary == {"new": 0, "text": 1}
    assert vectors.transform(["old"]).nnz == 0
