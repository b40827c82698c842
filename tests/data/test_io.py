from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from satori_jax.data.datasets import load_dataset
from satori_jax.data.encoding import decode
from satori_jax.data.io import fetch_regions, read_bed, read_fasta, read_labels
from satori_jax.errors import InputError


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        text = text.encode()
    path.write_bytes(text)
    return path


def check_error(fn, *needles):
    with pytest.raises(InputError) as err:
        fn()
    msg = str(err.value)
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"
    assert "\n" not in msg
    return msg


# ----------------------------------------------------------------------------- FASTA

def test_read_fasta_multiline_blank_lines(tmp_path):
    p = write(tmp_path / "a.fa", ">s1 some description\nACGT\nac\n\n>s2\nGG\nTT\n\n")
    ids, seqs = read_fasta(p)
    assert ids == ["s1", "s2"] and seqs == ["ACGTac", "GGTT"]


def test_read_fasta_crlf(tmp_path):
    p = write(tmp_path / "a.fa", ">s1\r\nACGT\r\nAC\r\n>s2\r\nGGTTCC\r\n")
    assert read_fasta(p) == (["s1", "s2"], ["ACGTAC", "GGTTCC"])


def test_read_fasta_gzip_detected_by_magic(tmp_path):
    text = ">s1\nACGT\nAC\n>s2\nGGTTCC\n"
    gz = write(tmp_path / "plain_name.fa", gzip.compress(text.encode()))
    assert read_fasta(gz) == (["s1", "s2"], ["ACGTAC", "GGTTCC"])
    plain = write(tmp_path / "looks.fa.gz", text)
    assert read_fasta(plain) == (["s1", "s2"], ["ACGTAC", "GGTTCC"])


def test_read_fasta_errors(tmp_path):
    check_error(lambda: read_fasta(tmp_path / "missing.fa"), "missing.fa", "not found")
    check_error(lambda: read_fasta(tmp_path), "expected a FASTA file")
    check_error(lambda: read_fasta(write(tmp_path / "empty.fa", "")), "empty.fa", "empty")
    check_error(lambda: read_fasta(write(tmp_path / "blank.fa", "\n\n  \n")), "blank.fa", "empty")
    check_error(lambda: read_fasta(write(tmp_path / "bin.fa", b">s1\nAC\x00\x01GT\n")), "bin.fa", "NUL")
    check_error(lambda: read_fasta(write(tmp_path / "bad.fa", b">s1\nAC\xff\xfeGT\n")), "bad.fa",
                "undecodable", "line 2")
    check_error(lambda: read_fasta(write(tmp_path / "gz.fa", b"\x1f\x8b\x08garbage")), "gz.fa", "gzip")
    check_error(lambda: read_fasta(write(tmp_path / "nohdr.fa", "ACGT\n>s1\nAC\n")), "nohdr.fa",
                "line 1", "before the first '>'")
    check_error(lambda: read_fasta(write(tmp_path / "es.fa", ">s1\nAC\n>s2\n\n>s3\nGG\n")), "es.fa",
                "record s2", "empty sequence")
    check_error(lambda: read_fasta(write(tmp_path / "last.fa", ">s1\nAC\n>s2\n")), "last.fa",
                "record s2", "empty sequence")
    check_error(lambda: read_fasta(write(tmp_path / "dup.fa", ">s1\nAC\n>s2\nGG\n>s1 x\nTT\n")),
                "dup.fa", "record s1", "duplicate", "line 5", "line 1")
    check_error(lambda: read_fasta(write(tmp_path / "noid.fa", ">s1\nAC\n>  \nTT\n")), "noid.fa",
                "line 3", "without a sequence id")


# ----------------------------------------------------------------------------- labels

def test_read_labels(tmp_path):
    p = write(tmp_path / "l.tsv", "id\tA\tB\r\ns1\t0\t1\r\n\ns2\t1\t1\r\n")
    ids, names, labels = read_labels(p)
    assert ids == ["s1", "s2"] and names == ["A", "B"]
    assert labels.dtype == np.float32
    np.testing.assert_array_equal(labels, [[0, 1], [1, 1]])


def test_read_labels_errors(tmp_path):
    check_error(lambda: read_labels(write(tmp_path / "e.tsv", "")), "e.tsv", "empty")
    check_error(lambda: read_labels(write(tmp_path / "n.tsv", "id\ns1\n")), "n.tsv", "no label columns")
    check_error(lambda: read_labels(write(tmp_path / "c.tsv", "id\tA\tB\ns1\t0\t1\ns2\t1\n")), "c.tsv",
                "record s2", "line 3", "2 columns", "header has 3")
    msg = check_error(lambda: read_labels(write(tmp_path / "v.tsv", "id\tA\tB\ns1\t0\t1\ns2\t1\t2\n")),
                      "v.tsv", "record s2", "line 3", "'B'", "'2'", "0 or 1")
    assert "v.tsv: record s2:" in msg
    check_error(lambda: read_labels(write(tmp_path / "d.tsv", "id\tA\ns1\t0\ns1\t1\n")), "d.tsv",
                "record s1", "duplicate", "line 3")
    check_error(lambda: read_labels(tmp_path / "nope.tsv"), "nope.tsv", "not found")


# ----------------------------------------------------------------------------- BED + genome

GENOME = {"chr1": "ACGTACGTAA" * 5, "chr2": "TTTTGGGGCC" * 3}


def write_genome(tmp_path: Path) -> Path:
    lines = []
    for name, seq in GENOME.items():
        lines.append(f">{name} description")
        lines.extend(seq[i:i + 12] for i in range(0, len(seq), 12))
    return write(tmp_path / "genome.fa", "\n".join(lines) + "\n")


def test_read_bed_header_and_without(tmp_path):
    p = write(tmp_path / "h.bed", "chrom\tstart\tend\tA\tB\nchr1\t10\t20\t1\t0\nchr2\t0\t8\t0\t1\n")
    chroms, starts, ends, names, labels, ids = read_bed(p)
    assert chroms == ["chr1", "chr2"] and names == ["A", "B"]
    np.testing.assert_array_equal(starts, [10, 0])
    np.testing.assert_array_equal(ends, [20, 8])
    np.testing.assert_array_equal(labels, [[1, 0], [0, 1]])
    assert ids == ["chr1:10-20", "chr2:0-8"]
    p = write(tmp_path / "n.bed", "track name=x\nchr1\t10\t20\t1\n#comment\nchr2\t0\t8\t0\n")
    chroms, starts, ends, names, labels, ids = read_bed(p)
    assert names == ["label_0"] and chroms == ["chr1", "chr2"]
    np.testing.assert_array_equal(labels[:, 0], [1, 0])


def test_read_bed_errors(tmp_path):
    check_error(lambda: read_bed(write(tmp_path / "e.bed", "")), "e.bed", "empty")
    check_error(lambda: read_bed(write(tmp_path / "r.bed", "chr1\t20\t10\t1\n")), "r.bed", "line 1",
                "end 10 <= start 20")
    check_error(lambda: read_bed(write(tmp_path / "z.bed", "chr1\t1\t5\t1\nchr1\t5\t5\t1\n")), "z.bed",
                "line 2", "end 5 <= start 5")
    check_error(lambda: read_bed(write(tmp_path / "neg.bed", "chr1\t1\t5\t1\nchr1\t-3\t5\t1\n")),
                "neg.bed", "line 2", "negative start")
    check_error(lambda: read_bed(write(tmp_path / "lab.bed", "chr1\t1\t5\t1\nchr1\t3\t9\tyes\n")),
                "lab.bed", "line 2", "chr1:3-9", "'yes'", "0 or 1")
    check_error(lambda: read_bed(write(tmp_path / "col.bed", "chr1\t1\t5\t1\nchr1\t3\t9\t1\t0\n")),
                "col.bed", "line 2", "5 columns, expected 4")
    check_error(lambda: read_bed(write(tmp_path / "nolab.bed", "chr1\t1\t5\n")), "nolab.bed",
                "at least one")
    check_error(lambda: read_bed(write(tmp_path / "int.bed", "chr1\t1\t5\t1\nchr1\t3\tx\t1\n")),
                "int.bed", "line 2", "integers")


def test_fetch_regions_exact(tmp_path):
    genome = write_genome(tmp_path)
    codes = fetch_regions(genome, ["chr1", "chr2", "chr1"], np.array([10, 4, 0]), np.array([20, 10, 50]), 6)
    assert codes.shape == (3, 6) and codes.dtype == np.uint8
    # centre 15 -> [12, 18); centre 7 -> [4, 10); centre 25 -> [22, 28)
    assert decode(codes) == [GENOME["chr1"][12:18], GENOME["chr2"][4:10], GENOME["chr1"][22:28]]


def test_fetch_regions_soft_masked_and_n(tmp_path):
    genome = write(tmp_path / "g.fa", ">c\nACGTnnacgtRA\n")
    codes = fetch_regions(genome, ["c"], np.array([0]), np.array([12]), 12)
    assert decode(codes) == ["ACGTNNACGTNA"]


def test_fetch_regions_errors(tmp_path):
    genome = write_genome(tmp_path)
    check_error(lambda: fetch_regions(genome, ["chrX"], np.array([0]), np.array([5]), 4, bed_path="r.bed"),
                "r.bed", "chrX:0-5", "'chrX'", "not in genome", "chr1")
    msg = check_error(
        lambda: fetch_regions(genome, ["chr1", "chr2"], np.array([10, 20]), np.array([20, 30]), 12,
                              bed_path="r.bed"),
        "r.bed", "record chr2:20-30", "chromosome chr2 (length 30)", "extends beyond")
    assert "#2" in msg
    check_error(lambda: fetch_regions(genome, ["chr1"], np.array([0]), np.array([4]), 6, bed_path="r.bed"),
                "r.bed", "chr1:0-4", "length 50")
    bad = write(tmp_path / "bad_genome.fa", ">c\nACGTXACGTA\n")
    check_error(lambda: fetch_regions(bad, ["c"], np.array([0]), np.array([10]), 10), "bad_genome.fa",
                "'X'")
    check_error(lambda: fetch_regions(tmp_path / "none.fa", ["c"], np.array([0]), np.array([10]), 10),
                "none.fa", "not found")


def test_load_dataset_bed(tmp_path):
    genome = write_genome(tmp_path)
    bed = write(tmp_path / "r.bed", "chrom\tstart\tend\tA\nchr1\t10\t20\t1\nchr2\t4\t10\t0\n")
    ds = load_dataset(bed=bed, genome=genome, length=6)
    assert ds.ids == ["chr1:10-20", "chr2:4-10"]
    assert decode(ds.codes) == [GENOME["chr1"][12:18], GENOME["chr2"][4:10]]
    assert ds.label_names == ["A"] and ds.labels.shape == (2, 1)
    assert list(ds.chroms) == ["chr1", "chr2"]
    assert ds.source == {"bed": str(bed), "genome": str(genome)}
    check_error(lambda: load_dataset(bed=bed, genome=genome), "r.bed", "data.length")
    dup = write(tmp_path / "dup.bed", "chr1\t10\t20\t1\nchr1\t10\t20\t0\n")
    check_error(lambda: load_dataset(bed=dup, genome=genome, length=6), "dup.bed", "chr1:10-20",
                "duplicate")


# ----------------------------------------------------------------------------- load_dataset

def make_pair(tmp_path: Path, fasta: str, labels: str, name: str = "x") -> tuple[Path, Path]:
    return write(tmp_path / f"{name}.fa", fasta), write(tmp_path / f"{name}.tsv", labels)


def test_load_dataset_order_follows_labels(tmp_path):
    fa, lab = make_pair(tmp_path, ">chr1:0-4\nACGT\n>chr2:5-9\nGGNN\n>chr1:10-14\ntttt\n",
                        "id\tA\tB\nchr2:5-9\t1\t0\nchr1:0-4\t0\t1\nchr1:10-14\t1\t1\n")
    ds = load_dataset(fasta=fa, labels=lab)
    assert ds.ids == ["chr2:5-9", "chr1:0-4", "chr1:10-14"]
    assert decode(ds.codes) == ["GGNN", "ACGT", "TTTT"]
    np.testing.assert_array_equal(ds.labels, [[1, 0], [0, 1], [1, 1]])
    assert ds.labels.dtype == np.float32 and ds.codes.dtype == np.uint8
    assert list(ds.chroms) == ["chr2", "chr1", "chr1"]
    assert len(ds) == 3 and ds.length == 4 and ds.num_labels == 2


def test_load_dataset_no_chroms_for_plain_ids(tmp_path):
    fa, lab = make_pair(tmp_path, ">s1\nACGT\n>s2\nGGTT\n", "id\tA\ns1\t1\ns2\t0\n")
    assert load_dataset(fasta=fa, labels=lab).chroms is None


def test_load_dataset_dir(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    write(d / "sequences.fa", ">s1\nACGT\n>s2\nGGTT\n")
    write(d / "labels.tsv", "id\tA\ns1\t1\ns2\t0\n")
    ds = load_dataset(data_dir=d)
    assert ds.ids == ["s1", "s2"] and ds.source["data_dir"] == str(d)
    (d / "labels.tsv").unlink()
    check_error(lambda: load_dataset(data_dir=d), str(d), "labels")
    check_error(lambda: load_dataset(data_dir=tmp_path / "nodir"), "nodir", "not found")
    check_error(lambda: load_dataset(data_dir=d / "sequences.fa"), "sequences.fa", "not a directory")


def test_load_dataset_resize(tmp_path):
    fa, lab = make_pair(tmp_path, ">s1\nAACCGGTT\n>s2\nACG\n>s3\nACGTAC\n", "id\tA\ns1\t1\ns2\t0\ns3\t1\n")
    ds = load_dataset(fasta=fa, labels=lab, length=6)
    assert decode(ds.codes) == ["ACCGGT", "NACGNN", "ACGTAC"]
    check_error(lambda: load_dataset(fasta=fa, labels=lab), "x.fa", "record s2", "length 3", "length 8")


def test_load_dataset_errors(tmp_path):
    fa, lab = make_pair(tmp_path, ">s1\nACGT\n>s2\nGGTT\n",
                        "id\tA\ns1\t1\nq1\t0\nq2\t0\ns2\t1\n", name="miss")
    check_error(lambda: load_dataset(fasta=fa, labels=lab), "miss.tsv", "2 id(s)", "q1, q2", "miss.fa")
    fa, lab = make_pair(tmp_path, ">s1\nACGT\n>s2\nGGTT\n>s3\nGGTT\n", "id\tA\ns1\t1\n", name="extra")
    check_error(lambda: load_dataset(fasta=fa, labels=lab), "extra.fa", "2 record(s)", "s2, s3",
                "no labels")
    fa, lab = make_pair(tmp_path, ">s1\nACGT\n>s2\nGGXT\n", "id\tA\ns1\t1\ns2\t0\n", name="badchar")
    check_error(lambda: load_dataset(fasta=fa, labels=lab), "badchar.fa", "record s2", "'X'", "position 3")
    check_error(lambda: load_dataset(fasta=fa, labels=lab, length=3), "badchar.fa", "record s2", "'X'")
    fa, lab = make_pair(tmp_path, ">s1\nACGT\n", "id\tA\n", name="hdronly")
    check_error(lambda: load_dataset(fasta=fa, labels=lab), "hdronly.tsv", "no labelled records")
    check_error(lambda: load_dataset(fasta=fa), "--fasta and --labels")
    check_error(lambda: load_dataset(), "give exactly one input")
    check_error(lambda: load_dataset(data_dir=tmp_path, fasta=fa, labels=lab), "give exactly one input")
    check_error(lambda: load_dataset(bed=tmp_path / "r.bed", length=4), "--bed and --genome")
