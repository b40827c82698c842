from __future__ import annotations

import numpy as np
import pytest

from satori_jax.data.meme import (
    Motif,
    information_content,
    max_log_odds,
    pwm_to_log_odds,
    read_meme,
    reverse_complement_pwm,
    write_meme,
)
from satori_jax.errors import InputError

HEADER = "MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n"


def _motifs():
    a = Motif("FOS::JUN", np.array([[0.1, 0.2, 0.3, 0.4], [1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]]),
              alt="MA0099.4")
    b = Motif("GATA1", np.array([[0.0, 0.0, 1.0, 0.0], [0.5, 0.0, 0.0, 0.5]]))
    return [a, b]


def test_round_trip(tmp_path):
    path = write_meme(tmp_path / "m.meme", _motifs(), background=(0.3, 0.2, 0.2, 0.3))
    back = read_meme(path)
    assert [m.name for m in back] == ["FOS::JUN", "GATA1"]
    assert [m.alt for m in back] == ["MA0099.4", ""]
    for m, o in zip(back, _motifs(), strict=True):
        np.testing.assert_allclose(m.pwm, o.pwm, atol=1e-6)
    # writing again gives identical bytes
    write_meme(tmp_path / "m2.meme", back, background=(0.3, 0.2, 0.2, 0.3))
    assert (tmp_path / "m.meme").read_bytes() == (tmp_path / "m2.meme").read_bytes()


def test_reads_meme_suite_style(tmp_path):
    text = HEADER + (
        "Background letter frequencies\nA 0.25 C 0.25 G 0.25 T 0.25\n\n"
        "MOTIF MA0001.1 AGL3\nletter-probability matrix: alength= 4 w= 2 nsites= 97 E= 0\n"
        "  0.5  0.5  0.0  0.0\n  0.0  0.0  0.0  1.0\nURL http://jaspar.genereg.net/matrix/MA0001.1\n\n"
        "MOTIF second\nletter-probability matrix: alength=4 w=1\n0.1 0.2 0.3 0.395\n"
    )
    (tmp_path / "x.meme").write_text(text)
    ms = read_meme(tmp_path / "x.meme")
    assert [(m.name, m.alt, m.width) for m in ms] == [("MA0001.1", "AGL3", 2), ("second", "", 1)]
    np.testing.assert_allclose(ms[1].pwm.sum(axis=1), 1.0)  # renormalized


@pytest.mark.parametrize(
    "body,needle",
    [
        ("MOTIF bad\nletter-probability matrix: alength= 4 w= 1\n0.5 0.5 0.0\n", "3 columns"),
        ("MOTIF bad\nletter-probability matrix: alength= 4 w= 1\n0.5 0.5 x 0.0\n", "non-number"),
        ("MOTIF bad\nletter-probability matrix: alength= 4 w= 1\n0.5 0.5 0.5 0.5\n", "sums to 2"),
        ("MOTIF bad\nletter-probability matrix: alength= 4 w= 3\n0.5 0.5 0 0\n0 0 0 1\n", "w= 3"),
        ("MOTIF bad\nletter-probability matrix: alength= 20 w= 1\n0.5 0.5 0 0\n", "alength"),
        ("MOTIF bad\n\nMOTIF other\n", "letter-probability"),
        ("nothing here\n", "no motifs"),
    ],
)
def test_malformed(tmp_path, body, needle):
    p = tmp_path / "bad.meme"
    p.write_text(HEADER + body)
    with pytest.raises(InputError) as exc:
        read_meme(p)
    msg = str(exc.value)
    assert str(p) in msg and needle in msg
    if "MOTIF bad" in body:
        assert "bad" in msg.split(str(p))[1]


def test_unreadable(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        read_meme(tmp_path / "missing.meme")


def test_helpers():
    pwm = np.array([[1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0.0, 0.0]])
    np.testing.assert_allclose(information_content(pwm), [2.0, 0.0, 1.0])
    rc = reverse_complement_pwm(pwm)
    np.testing.assert_allclose(rc[0], [0.0, 0.0, 0.5, 0.5])  # last row, complemented
    np.testing.assert_allclose(rc[2], [0.0, 0.0, 0.0, 1.0])
    lo = pwm_to_log_odds(pwm, (0.25,) * 4, pseudocount=0.0 + 1e-12)
    np.testing.assert_allclose(lo[0, 0], 2.0, atol=1e-6)
    np.testing.assert_allclose(lo[1], 0.0, atol=1e-9)
    lo = pwm_to_log_odds(pwm, (0.3, 0.2, 0.2, 0.3), pseudocount=0.01)
    expect = np.log2((1.0 + 0.01) / 1.04 / 0.3) + np.log2((0.25 + 0.01) / 1.04 / 0.2) + np.log2(
        (0.5 + 0.01) / 1.04 / 0.2)
    assert max_log_odds(lo) == pytest.approx(expect)
