from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from satori_jax.data.encoding import (
    decode,
    encode_sequence,
    encode_sequences,
    one_hot,
    one_hot_np,
    resize_codes,
    reverse_complement,
)
from satori_jax.errors import InputError


def test_codes_and_case():
    codes = encode_sequence("ACGTacgtNnRYSWKMBDHVrysw")
    np.testing.assert_array_equal(codes[:8], [0, 1, 2, 3, 0, 1, 2, 3])
    assert (codes[8:] == 4).all()
    assert codes.dtype == np.uint8


def test_round_trip():
    seqs = ["ACGTNACGTT", "TTTTGGGGCA", "NNNNNNNNNN"]
    codes = encode_sequences(seqs)
    assert codes.shape == (3, 10) and codes.dtype == np.uint8
    assert decode(codes) == seqs
    assert decode(codes[0]) == [seqs[0]]
    assert decode(encode_sequences(["acgtr"])) == ["ACGTN"]


def test_bad_character_names_file_record_char_position():
    with pytest.raises(InputError) as err:
        encode_sequences(["ACGT", "ACXT"], path="in.fa", ids=["a", "b"])
    msg = str(err.value)
    assert "in.fa" in msg and "record b" in msg and "'X'" in msg and "position 3" in msg


def test_bad_non_ascii_character():
    with pytest.raises(InputError, match=r"record s2.*'é' at position 2"):
        encode_sequences(["ACGT", "AéGT"[:4]], path="x.fa", ids=["s1", "s2"])
    with pytest.raises(InputError, match="'-'"):
        encode_sequence("AC-T", path="x.fa", record="r")


def test_ragged_names_record_and_lengths():
    with pytest.raises(InputError) as err:
        encode_sequences(["ACGT", "ACGT", "ACG"], path="in.fa", ids=["a", "b", "c"])
    msg = str(err.value)
    assert "in.fa" in msg and "record c" in msg and "length 3" in msg and "length 4" in msg


def test_one_hot_values():
    codes = encode_sequences(["ACGTN"])
    oh = np.asarray(one_hot(codes))
    assert oh.shape == (1, 5, 4) and oh.dtype == np.float32
    np.testing.assert_array_equal(oh[0, :4], np.eye(4))
    np.testing.assert_array_equal(oh[0, 4], [0.25] * 4)
    np.testing.assert_array_equal(one_hot_np(codes), oh)
    jitted = jax.jit(one_hot)(jnp.asarray(codes))
    np.testing.assert_array_equal(np.asarray(jitted), oh)


def test_reverse_complement():
    codes = encode_sequences(["AACGTN", "GATTCA"])
    rc = reverse_complement(codes)
    assert decode(rc) == ["NACGTT", "TGAATC"]
    assert rc.dtype == np.uint8
    np.testing.assert_array_equal(reverse_complement(rc), codes)
    rc_j = reverse_complement(jnp.asarray(codes))
    np.testing.assert_array_equal(np.asarray(rc_j), rc)
    # revcomp of the one-hot equals the one-hot flipped along both L and the channel axis
    np.testing.assert_array_equal(one_hot_np(rc), one_hot_np(codes)[:, ::-1, ::-1])


def test_resize_codes():
    c = encode_sequence("ACGTAC")
    assert decode(resize_codes(c, 4)) == ["CGTA"]
    assert decode(resize_codes(c, 3)) == ["CGT"]
    assert decode(resize_codes(c, 6)) == ["ACGTAC"]
    assert decode(resize_codes(c, 9)) == ["NACGTACNN"]
    assert decode(resize_codes(c, 10)) == ["NNACGTACNN"]
    with pytest.raises(ValueError):
        resize_codes(c, 0)
