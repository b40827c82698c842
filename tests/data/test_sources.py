"""The input layer (satori_jax.data.sources): one answer per input kind, chunking, keep, BED ids, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from satori_jax.data.encoding import decode, encode_sequences
from satori_jax.data.sources import BedSource, FastaSource, RunSource, open_source
from satori_jax.errors import InputError

L, N = 12, 7
NAMES = ["a", "b"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The same N sequences as FASTA + labels, a dataset directory, BED + genome and a run's test set.

    The genome is the sequences laid end to end with 5 bp between them, and the BED regions are the
    sequences themselves (``L`` bp, so the fetched window is the region), so every id is the region's.
    """
    pytest.importorskip("pyfaidx")
    d = tmp_path_factory.mktemp("src")
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, (N, L)).astype(np.uint8)
    codes[2, 3] = 4
    labels = rng.integers(0, 2, (N, 2)).astype(np.float32)
    seqs = decode(codes)
    starts = [5 + i * (L + 5) for i in range(N)]
    ids = [f"chr1:{s}-{s + L}" for s in starts]
    genome = "".join("ACGTA" + s for s in seqs) + "ACGTA"
    lines = [genome[i : i + 50] for i in range(0, len(genome), 50)]
    (d / "g.fa").write_text(">chr1\n" + "\n".join(lines) + "\n")
    (d / "ds").mkdir()
    (d / "ds" / "sequences.fa").write_text("".join(f">{i} x\n{s}\n" for i, s in zip(ids, seqs, strict=True)))
    lab = "id\ta\tb\n" + "".join(f"{i}\t{int(r[0])}\t{int(r[1])}\n" for i, r in zip(ids, labels, strict=True))
    (d / "ds" / "labels.tsv").write_text(lab)
    rows = [f"chr1\t{s}\t{s + L}\t{int(r[0])}\t{int(r[1])}\n" for s, r in zip(starts, labels, strict=True)]
    (d / "r.bed").write_text("chrom\tstart\tend\ta\tb\n" + "".join(rows))
    (d / "run").mkdir()
    np.savez(d / "run" / "test_predictions.npz", ids=np.asarray(ids), labels=labels, probs=labels,
             codes=codes)
    (d / "run" / "data.json").write_text(json.dumps({"label_names": NAMES, "length": L}))
    return d, ids, codes, labels


def _all(source, chunk, length=L, keep=None):
    ids, codes, labels, sizes = [], [], [], []
    for i, c, lab in source.chunks(chunk, length, keep=keep):
        sizes.append(len(i))
        ids += i
        codes.append(c)
        labels.append(lab)
    return ids, codes, labels, sizes


def _sources(d):
    return {
        "fasta": open_source(fasta=d / "ds" / "sequences.fa", labels=d / "ds" / "labels.tsv"),
        "data": open_source(data_dir=d / "ds"),
        "bed": open_source(bed=d / "r.bed", genome=d / "g.fa"),
        "run": open_source(run_dir=d / "run"),
    }


def test_every_kind_yields_the_same_ids_codes_labels(inputs):
    d, ids, codes, labels = inputs
    for name, src in _sources(d).items():
        assert src.n == N and src.label_names == NAMES, name
        for chunk in (1, 3, N, 100):
            got_ids, got_codes, got_labels, sizes = _all(src, chunk)
            assert got_ids == ids, name
            assert sizes == [min(chunk, N - s) for s in range(0, N, chunk)], name
            np.testing.assert_array_equal(np.concatenate(got_codes), codes, err_msg=name)
            assert all(c.dtype == np.uint8 for c in got_codes)
            np.testing.assert_array_equal(np.concatenate(got_labels), labels, err_msg=name)
    kinds = {n: s.kind for n, s in _sources(d).items()}
    assert kinds == {"fasta": "fasta", "data": "fasta", "bed": "bed", "run": "run"}


def test_keep_skips_codes_but_not_ids_or_labels(inputs):
    d, ids, codes, labels = inputs
    for name, src in _sources(d).items():
        got_ids, got_codes, got_labels, _ = _all(src, 3, keep=lambda k: k % 2 == 1)  # process 1 of 2
        assert got_ids == ids, name
        assert got_codes[0] is None and got_codes[2] is None, name
        np.testing.assert_array_equal(got_codes[1], codes[3:6], err_msg=name)
        np.testing.assert_array_equal(np.concatenate(got_labels), labels, err_msg=name)


def test_labels_optional(inputs):
    d, ids, codes, _ = inputs
    for src in (
        open_source(fasta=d / "ds" / "sequences.fa", need_labels=False),
        open_source(data_dir=d / "ds", need_labels=False),
        open_source(bed=d / "r.bed", genome=d / "g.fa", need_labels=False),
    ):
        assert src.label_names is None and "labels" not in src.files
        got_ids, got_codes, got_labels, _ = _all(src, 4)
        assert got_ids == ids and got_labels == [None, None]
        np.testing.assert_array_equal(np.concatenate(got_codes), codes)
        assert src.n == N  # counted by a pass over the ids
    # a BED file without label columns (and with extra non-label columns) is fine without labels
    (d / "plain.bed").write_text("".join(f"chr1\t{s}\t{s + L}\tpeak\n" for s in range(5, N * (L + 5), L + 5)))
    got_ids, got_codes, _, _ = _all(BedSource(d / "plain.bed", d / "g.fa", labels=False), 5)
    assert got_ids == ids
    np.testing.assert_array_equal(np.concatenate(got_codes), codes)
    with pytest.raises(InputError, match="--fasta and --labels must be given together"):
        open_source(fasta=d / "ds" / "sequences.fa")
    with pytest.raises(InputError, match="plain.bed.*labels must be 0 or 1"):
        open_source(bed=d / "plain.bed", genome=d / "g.fa")


def test_bed_id_is_the_given_region_and_the_window_is_centred(inputs):
    d, _, _, _ = inputs
    genome = (d / "g.fa").read_text().split("\n", 1)[1].replace("\n", "")
    (d / "w.bed").write_text("chr1\t20\t50\t1\t0\nchr1\t33\t36\t0\t1\n")
    ids, codes, _, _ = _all(open_source(bed=d / "w.bed", genome=d / "g.fa"), 10)
    assert ids == ["chr1:20-50", "chr1:33-36"]
    for (s, e), c in zip([(20, 50), (33, 36)], codes[0], strict=True):
        w = (s + e) // 2 - L // 2
        assert decode(c[None])[0] == genome[w : w + L]


def test_fasta_records_are_resized_to_the_length(tmp_path):
    (tmp_path / "a.fa").write_text(">x\nAACCGGTT\n>y\nACG\n")
    _, codes, labels, _ = _all(FastaSource(tmp_path / "a.fa"), 2, length=4)
    assert decode(codes[0]) == ["CCGG", "ACGN"] and labels == [None]
    _, codes, _, _ = _all(FastaSource(tmp_path / "a.fa"), 2, length=3)
    np.testing.assert_array_equal(codes[0], encode_sequences(["CCG", "ACG"]))


def test_stamp_and_describe(inputs, tmp_path):
    d, _, _, _ = inputs
    src = _sources(d)
    assert sorted(src["fasta"].stamp()) == ["fasta", "labels"]
    assert sorted(src["bed"].stamp()) == ["bed", "genome"] and sorted(src["run"].stamp()) == ["predictions"]
    assert src["bed"].describe() == {"kind": "bed", "bed": str((d / "r.bed").resolve()),
                                     "genome": str((d / "g.fa").resolve())}
    f = tmp_path / "s.fa"
    f.write_text(">a\nACGT\n")
    before = FastaSource(f).stamp()
    f.write_text(">a\nACGTA\n")
    assert FastaSource(f).stamp() != before


def test_errors(inputs, tmp_path):
    d, ids, _, _ = inputs
    fa = d / "ds" / "sequences.fa"
    cases = [
        (lambda: open_source(), "give exactly one input"),
        (lambda: open_source(data_dir=d / "ds", fasta=fa), "give exactly one input"),
        (lambda: open_source(bed=d / "r.bed"), "--bed and --genome"),
        (lambda: open_source(bed=d / "r.bed", genome=tmp_path / "no.fa"), "genome FASTA file not found"),
        (lambda: open_source(fasta=tmp_path / "no.fa", need_labels=False), "FASTA file not found"),
        (lambda: open_source(data_dir=tmp_path / "nodir"), "dataset directory not found"),
        (lambda: RunSource(tmp_path), "test_predictions.npz"),
    ]
    for fn, msg in cases:
        with pytest.raises(InputError, match=msg):
            fn()
    lab = tmp_path / "lab.tsv"
    lab.write_text("id\ta\n" + "".join(f"{i}\t1\n" for i in ids[:-1]))  # last record unlabelled
    with pytest.raises(InputError, match=f"{ids[-1]}: record has no labels in .*lab.tsv"):
        _all(FastaSource(fa, lab), 3)
    lab.write_text("id\ta\n" + "".join(f"{i}\t1\n" for i in [*ids, "extra"]))
    with pytest.raises(InputError, match="1 id\\(s\\) have no sequence.*extra"):
        _all(FastaSource(fa, lab), 3)
    (tmp_path / "dup.bed").write_text("chr1\t5\t17\t1\nchr1\t5\t17\t0\n")
    with pytest.raises(InputError, match="duplicate region"):
        BedSource(tmp_path / "dup.bed", d / "g.fa")
    (tmp_path / "two.bed").write_text("chr1\t5\n")
    with pytest.raises(InputError, match="2 column\\(s\\); expected at least chrom, start, end"):
        _all(BedSource(tmp_path / "two.bed", d / "g.fa", labels=False), 3)
    (tmp_path / "far.bed").write_text("chr1\t5\t17\nchr1\t20\t30\nchr1\t9000\t9010\n")
    with pytest.raises(InputError, match="far.bed: record chr1:9000-9010 \\(#3\\).*extends beyond"):
        _all(BedSource(tmp_path / "far.bed", d / "g.fa", labels=False), 2)
    (tmp_path / "x.fa").write_text(">x\nACXT\n")
    with pytest.raises(InputError, match="invalid character 'X'"):
        _all(FastaSource(tmp_path / "x.fa"), 3, length=4)
    # a bad record in a skipped chunk is not encoded, so not an error there
    assert _all(FastaSource(tmp_path / "x.fa"), 3, length=4, keep=lambda k: False)[0] == ["x"]
