"""Command-line help reads alike across the entry points: one placeholder per kind of value
(``--fasta FILE`` everywhere), examples in every ``--help``, presets in words, no word broken."""

from __future__ import annotations

import argparse
import re

import pytest

from bench.cli import build_parser as bench_parser
from satori_jax.cli.attribute import build_parser as attribute_parser
from satori_jax.cli.interpret import build_parser as interpret_parser
from satori_jax.cli.simulate import build_parser as simulate_parser
from satori_jax.cli.train import build_parser as train_parser

#: The placeholder of each kind of value, whichever command takes it.
KINDS = {
    "--data": "DIR", "--fasta": "FILE", "--labels": "FILE", "--bed": "FILE", "--genome": "FILE",
    "--motifs": "FILE", "--pairs": "FILE", "--truth": "FILE", "--family-table": "FILE",
    "--motif-db": "jaspar2024|FILE", "--config": "NAME|FILE", "--workdir": "RUN",
    "--batch-size": "N", "--chunk-size": "N", "--seed": "N", "--num-sequences": "N", "--length": "N",
    "--steps": "N", "--max-examples": "N", "--hist-bins": "N", "--num-tfs": "N", "--num-pairs": "N",
    "--pairs-per-seq": "N", "--repeats": "N", "--train-steps": "N", "--methods": "M1,M2",
    "--prob-cutoff": "F", "--precision-cutoff": "F", "--min-effect": "F", "--activity-fraction": "F",
    "--motif-fraction": "F",
}  # fmt: skip
#: ``--out`` is a directory, except where the command writes one file.
OUT = {"python -m satori_jax.attribute": "FILE"}


def _parsers() -> dict[str, argparse.ArgumentParser]:
    """Every parser, the subcommands' included, by ``prog``."""
    found = {}

    def walk(p: argparse.ArgumentParser) -> None:
        found[p.prog] = p
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for sub in a.choices.values():
                    walk(sub)

    for build in (train_parser, interpret_parser, attribute_parser, simulate_parser, bench_parser):
        walk(build())
    return found


PARSERS = _parsers()


def _valued(p: argparse.ArgumentParser):
    """``(option, action)`` of every option that takes a value."""
    for a in p._actions:
        if a.option_strings and a.nargs != 0 and not isinstance(a, argparse._HelpAction):
            yield a.option_strings[-1], a


def test_entry_points_found():
    assert {"python -m satori_jax.train", "python -m satori_jax.interpret", "python -m satori_jax.attribute",
            "python -m satori_jax.simulate", "python -m satori_jax.simulate pairs",
            "python -m satori_jax.simulate dfim", "python -m satori_jax.simulate twins",
            "python -m bench"} <= set(PARSERS)


def test_one_placeholder_per_kind_of_value():
    seen: dict[str, set[str]] = {}
    for prog, p in PARSERS.items():
        for opt, a in _valued(p):
            if a.choices is not None:
                assert a.metavar is None, (prog, opt)  # argparse lists the choices
                continue
            # an explicit placeholder, not argparse's upper-cased option name
            assert a.metavar is not None, f"{prog} {opt}: no metavar"
            if opt == "--out":
                assert a.metavar == OUT.get(prog, "DIR"), (prog, opt, a.metavar)
                continue
            if opt in KINDS:
                assert a.metavar == KINDS[opt], (prog, opt, a.metavar)
            seen.setdefault(opt, set()).add(a.metavar)
    assert {k for k, v in seen.items() if len(v) > 1} == set(), seen
    assert {"--fasta", "--labels", "--bed", "--genome", "--data", "--seed", "--batch-size"} <= set(seen)
    for prog in ("python -m satori_jax.interpret", "python -m satori_jax.attribute"):
        run = [a for a in PARSERS[prog]._actions if not a.option_strings and a.dest == "run"]
        assert run and run[0].metavar == "RUN", prog


@pytest.mark.parametrize("prog", sorted(PARSERS))
def test_help_has_examples_and_no_broken_words(prog, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    text = PARSERS[prog].format_help()
    assert "\nexamples:\n" in text and " -m " in text.split("\nexamples:\n")[-1], prog
    # argparse only breaks a word longer than the line; a hyphenated fragment at a line end would be one
    assert not re.search(r"[a-z]-\n", text), prog


def test_simulate_presets_in_words():
    pairs = PARSERS["python -m satori_jax.simulate pairs"].format_help()
    assert "{'num_tfs'" not in pairs and "num_pairs_per_seq" not in pairs
    for line in ("data-40:  SATORI 2.0 Data-40: 20 JASPAR TFs, 40 interacting pairs",
                 "data-80:  SATORI 2.0 Data-80: 30 JASPAR TFs, 80 interacting pairs"):
        assert line in pairs, line
    flat = " ".join(pairs.split())
    assert ("long: long sequences: 40 JASPAR TFs, 80 interacting pairs among them; 60000 sequences of "
            "1500 bp") in flat
    assert "each positive holds 3-5 pairs (motifs 8-80 bp apart), each negative lone motifs >= 200 bp" in flat
    twins = " ".join(PARSERS["python -m satori_jax.simulate twins"].format_help().split())
    assert ("twins-60: 25 JASPAR TFs, 60 interacting pairs among them; 60000 sequences of 300 bp (30000 "
            "twin pairs); each positive holds 3 true pairs") in twins
