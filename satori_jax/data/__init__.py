"""Sequence data input: encoding, readers, splits and the batch pipeline."""

from __future__ import annotations

from satori_jax.data.datasets import Dataset, chroms_from_ids, load_dataset
from satori_jax.data.encoding import (
    ALPHABET,
    N_CODE,
    decode,
    encode_sequence,
    encode_sequences,
    one_hot,
    one_hot_np,
    resize_codes,
    reverse_complement,
)
from satori_jax.data.io import fetch_regions, read_bed, read_fasta, read_labels
from satori_jax.data.pipeline import batch_iterator, epoch_order, num_batches, rc_flags
from satori_jax.data.splits import (
    GROUPS_FILE,
    SPLITS,
    chrom_split,
    group_split,
    make_splits,
    random_split,
    read_groups,
    read_splits,
    write_splits,
)

__all__ = [
    "ALPHABET",
    "GROUPS_FILE",
    "N_CODE",
    "SPLITS",
    "Dataset",
    "batch_iterator",
    "chrom_split",
    "chroms_from_ids",
    "decode",
    "encode_sequence",
    "encode_sequences",
    "epoch_order",
    "fetch_regions",
    "group_split",
    "load_dataset",
    "make_splits",
    "num_batches",
    "one_hot",
    "one_hot_np",
    "random_split",
    "rc_flags",
    "read_bed",
    "read_fasta",
    "read_groups",
    "read_labels",
    "read_splits",
    "resize_codes",
    "reverse_complement",
    "write_splits",
]
