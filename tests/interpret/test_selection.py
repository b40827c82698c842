from __future__ import annotations

import numpy as np
import pytest

from satori_jax.errors import InputError
from satori_jax.interpret.selection import select_examples


def test_binary_selection():
    labels = np.array([[1], [1], [1], [0], [0], [0]], np.float32)
    probs = np.array([[0.9], [0.7], [0.71], [0.1], [0.3], [0.8]], np.float32)
    s = select_examples(labels, probs)
    np.testing.assert_array_equal(s.fg_idx, [0, 2])
    np.testing.assert_array_equal(s.bg_idx, [3])
    assert s.targets.shape == (2, 1) and s.targets.all() and s.bg_targets.shape == (1, 1)
    s2 = select_examples(labels, probs, background="shuffle")
    assert s2.bg_idx is None and s2.bg_targets.shape == (2, 1)


def test_multilabel_selection():
    labels = np.array([[1, 0, 1], [1, 1, 0], [0, 0, 1], [1, 1, 1]], np.float32)
    probs = np.array([[0.9, 0.2, 0.6],  # precision 1
                      [0.9, 0.1, 0.8],  # precision 1/2 -> kept (>=)
                      [0.1, 0.2, 0.3],  # no predicted label -> excluded
                      [0.1, 0.2, 0.9]], np.float32)  # precision 1
    s = select_examples(labels, probs)
    np.testing.assert_array_equal(s.fg_idx, [0, 1, 3])
    assert s.bg_idx is None
    np.testing.assert_array_equal(s.targets, [[1, 0, 1], [1, 0, 0], [0, 0, 1]])
    s = select_examples(labels, probs, precision_cutoff=0.6)
    np.testing.assert_array_equal(s.fg_idx, [0, 3])
    with pytest.raises(InputError):
        select_examples(labels, probs, background="negatives")


def test_no_example_errors_name_cutoff_and_close_count():
    labels = np.array([[1], [1], [0]])
    probs = np.array([[0.65], [0.2], [0.1]])
    with pytest.raises(InputError, match=r"prob cutoff.*2 positives, 1 within 0.1"):
        select_examples(labels, probs)
    with pytest.raises(InputError, match="negative cutoff"):
        select_examples(labels, probs, prob_cutoff=0.5, neg_cutoff=0.05)
    with pytest.raises(InputError, match="precision cutoff"):
        select_examples(np.array([[1, 0], [0, 1]]), np.array([[0.2, 0.9], [0.9, 0.1]]))
