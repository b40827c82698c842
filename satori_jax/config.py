"""Typed, frozen experiment configuration: load, validate, override, save.

A config is three sections, ``data``, ``model`` and ``train``. Files in
``configs/`` are TOML and may set any subset of keys; everything else keeps the
defaults below. Unknown keys and values of the wrong type are
:class:`~satori_jax.errors.InputError`\\ s naming the file and key.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from satori_jax.errors import InputError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


@dataclass(frozen=True)
class DataConfig:
    """How sequences are read and split."""

    length: int = 0
    """Resize every sequence / region around its centre to this many bp (0: keep; BED input needs it)."""
    split: str = "random"
    """``random`` (fractions below, seeded) or ``chrom`` (``val_chroms`` / ``test_chroms``)."""
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    val_chroms: tuple[str, ...] = ()
    test_chroms: tuple[str, ...] = ()
    rc_augment: bool = False
    """Randomly reverse-complement training sequences (per example, per epoch)."""
    seed: int = 0
    """Seed of the random split."""
    groups: str = ""
    """``id<TAB>group`` file whose groups a random split keeps whole; empty: a dataset directory's
    ``groups.tsv`` when present (twins data); ``"none"``: ignore groups."""


@dataclass(frozen=True)
class ModelConfig:
    """The SATORI model family; ``arch`` picks the variant."""

    arch: str = "basic"
    """``basic`` (CNN + attention), ``bilstm`` (CNN + BiLSTM + attention) or ``deep`` (SEI-inspired)."""
    num_filters: int = 200
    filter_width: int = 13
    padding: str = "SAME"
    batch_norm: bool = True
    activation: str = "relu"
    """First-layer activation: ``relu`` or ``exp``."""
    pool_size: int = 4
    dropout: float = 0.2
    lstm_units: int = 64
    """Hidden units per direction of the BiLSTM (``arch = "bilstm"``)."""
    positional_encoding: bool = False
    """Add a sinusoidal positional encoding to the attention input."""
    relative_bias: int = 0
    """Learned per-head attention bias for each offset between attention positions up to ±this many
    (``pool_size`` bp each; farther offsets share the last one); 0: none. Lets attention learn which
    TFs sit *next to* each other (see :class:`satori_jax.models.layers.MultiHeadSelfAttention`)."""
    relative_bias_init: str = "alibi"
    attention_window: int = 0
    """Attend only to positions at most this many attention positions (``pool_size`` bp each) away;
    0: everywhere. A local window keeps attention from collapsing onto the sequence's strongest
    motif, which makes the attention output a function of the motif set, blind to adjacency."""
    window_heads: int = 0
    """How many heads (the first ones) the window applies to; the others attend everywhere (long-range
    co-occurrence). 0 (or ``num_heads`` or more): all heads."""
    """Start of that bias: ``alibi`` (head ``h`` at ``−2^(−8(h+1)/H)·|offset|``) or ``zeros``."""
    num_heads: int = 8
    head_dim: int = 32
    attn_dropout: float = 0.1
    proj_dim: int = 100
    """Width of the projection after the concatenated heads."""
    residual: bool = False
    """Add the (projected) attention input to the attention output."""
    deep_blocks: int = 2
    deep_channels: int = 128
    pwm_file: str = ""
    """MEME file whose motifs initialise the first filters (log-odds); empty: random init."""
    freeze_pwm: bool = False
    """Keep the PWM-initialised filters fixed during training."""


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and early stopping."""

    optimizer: str = "adam"
    """``adam``, ``adamw`` or ``sgd`` (with ``momentum``)."""
    learning_rate: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 128
    eval_batch_size: int = 512
    epochs: int = 30
    patience: int = 15
    """Stop after this many epochs in which validation AUROC did not beat its best by ``min_delta``."""
    min_delta: float = 0.0
    """Smallest gain in validation AUROC that counts as progress for ``patience`` (a saturated AUROC,
    0.9995 → 0.9997, does not keep training alive); the best checkpoint still follows any gain."""
    entropy_weight: float = 0.0
    """λ of the attention-entropy loss term (SATORI 2.0 uses 1e-3 … 1e-2)."""
    grad_clip: float = 0.0
    """Clip the global gradient norm to this value (0: no clipping)."""
    seed: int = 0
    max_seconds: float = 0.0
    """Stop training (cleanly, after the current epoch) once this many seconds have passed; 0: no limit."""
    pretrain_epochs: int = 0
    """Passes of motif pretraining before the first epoch: each first-layer filter learns to tell the
    training sequences from copies with their 2-bp blocks shuffled (:mod:`satori_jax.train.pretrain`);
    0: off."""
    pretrain_learning_rate: float = 3e-3
    """Adam step of the motif pretraining."""
    seed_filters: bool = False
    """Before pretraining, set the first-layer filters to the training sequences' most enriched,
    mutually distinct 8-mers against dinucleotide shuffles (:mod:`satori_jax.train.seeding`)."""


@dataclass(frozen=True)
class Config:
    """A whole experiment."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


_CHOICES = {
    ("data", "split"): ("random", "chrom"),
    ("model", "arch"): ("basic", "bilstm", "deep"),
    ("model", "padding"): ("SAME", "VALID"),
    ("model", "activation"): ("relu", "exp"),
    ("model", "relative_bias_init"): ("alibi", "zeros"),
    ("train", "optimizer"): ("adam", "adamw", "sgd"),
}


def _coerce(value: Any, typ: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``typ`` (ints are accepted for floats)."""
    origin = typing.get_origin(typ)
    if origin is tuple:
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        if not isinstance(value, list | tuple):
            raise InputError(f"{where}: expected a list, got {value!r}")
        (inner, _) = typing.get_args(typ)
        return tuple(_coerce(v, inner, where) for v in value)
    if typ is bool:
        if isinstance(value, bool):
            return value
        raise InputError(f"{where}: expected true/false, got {value!r}")
    if typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise InputError(f"{where}: expected an integer, got {value!r}")
    if typ is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise InputError(f"{where}: expected a number, got {value!r}")
    if typ is str:
        if isinstance(value, str):
            return value
        raise InputError(f"{where}: expected a string, got {value!r}")
    if isinstance(typ, types.UnionType):  # pragma: no cover - not used yet
        return value
    raise InputError(f"{where}: unsupported type {typ!r}")


def _section_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def from_dict(raw: dict[str, Any], source: str = "config") -> Config:
    """Build a validated :class:`Config` from nested dicts (missing keys keep defaults).

    Raises
    ------
    InputError
        On an unknown section or key, a value of the wrong type, or a value outside its choices.
    """
    if not isinstance(raw, dict):
        raise InputError(f"{source}: expected a table of sections, got {type(raw).__name__}")
    sections = {f.name: f.default_factory() for f in dataclasses.fields(Config)}  # type: ignore[misc]
    for name, values in raw.items():
        if name not in sections:
            raise InputError(f"{source}: unknown section {name!r} (known: {', '.join(sections)})")
        if not isinstance(values, dict):
            raise InputError(f"{source}: section {name!r} must be a table of keys")
        types_ = _section_types(type(sections[name]))
        updates = {}
        for key, value in values.items():
            if key not in types_:
                raise InputError(f"{source}: unknown key {name}.{key} (known: {', '.join(sorted(types_))})")
            updates[key] = _coerce(value, types_[key], f"{source}: {name}.{key}")
            choices = _CHOICES.get((name, key))
            if choices and updates[key] not in choices:
                raise InputError(f"{source}: {name}.{key} must be one of {choices}, got {value!r}")
        sections[name] = dataclasses.replace(sections[name], **updates)
    cfg = Config(**sections)
    _check_ranges(cfg, source)
    return cfg


def _check_ranges(cfg: Config, source: str) -> None:
    checks = [
        (cfg.model.num_filters > 0, "model.num_filters must be > 0"),
        (cfg.model.filter_width > 0, "model.filter_width must be > 0"),
        (cfg.model.pool_size > 0, "model.pool_size must be > 0"),
        (cfg.model.relative_bias >= 0, "model.relative_bias must be >= 0"),
        (cfg.model.attention_window >= 0, "model.attention_window must be >= 0"),
        (cfg.model.window_heads >= 0, "model.window_heads must be >= 0"),
        (cfg.model.num_heads > 0 and cfg.model.head_dim > 0, "model.num_heads and head_dim must be > 0"),
        (0.0 <= cfg.model.dropout < 1.0, "model.dropout must be in [0, 1)"),
        (0.0 <= cfg.model.attn_dropout < 1.0, "model.attn_dropout must be in [0, 1)"),
        (cfg.train.batch_size > 0, f"train.batch_size must be > 0, got {cfg.train.batch_size}"),
        (cfg.train.eval_batch_size > 0,
         f"train.eval_batch_size must be > 0, got {cfg.train.eval_batch_size}"),
        (cfg.train.learning_rate > 0, "train.learning_rate must be > 0"),
        (cfg.train.entropy_weight >= 0, "train.entropy_weight must be >= 0"),
        (cfg.train.min_delta >= 0, f"train.min_delta must be >= 0, got {cfg.train.min_delta}"),
        (cfg.train.epochs > 0, f"train.epochs must be > 0, got {cfg.train.epochs}"),
        (
            0 <= cfg.data.val_fraction < 1
            and 0 <= cfg.data.test_fraction < 1
            and cfg.data.val_fraction + cfg.data.test_fraction < 1,
            "data.val_fraction + data.test_fraction must be < 1",
        ),
        (cfg.data.length >= 0, "data.length must be >= 0"),
    ]
    for ok, message in checks:
        if not ok:
            raise InputError(f"{source}: {message}")


def to_dict(cfg: Config) -> dict[str, Any]:
    """Plain nested dict (tuples become lists), suitable for JSON."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def resolve_config_path(name: str) -> Path:
    """Find a config by path, or by name in ``configs/`` (``.toml`` optional)."""
    candidates = [Path(name), Path(name + ".toml"), CONFIG_DIR / name, CONFIG_DIR / (name + ".toml")]
    for cand in candidates:
        if cand.is_file():
            return cand
    known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.toml")))
    raise InputError(f"{name}: no such config file (known configs: {known})")


def load(path: str | Path) -> Config:
    """Load a TOML (``configs/*.toml``) or JSON (``RUN/config.json``) config file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(f"{path}: cannot read config ({exc.strerror})") from None
    try:
        raw = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a valid config file ({exc})") from None
    return from_dict(raw, str(path))


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        low = text.lower()
        if low in ("true", "false"):
            return low == "true"
        return text


def apply_overrides(cfg: Config, overrides: list[str]) -> Config:
    """Apply ``section.key=value`` strings (values parsed as JSON where possible).

    Raises
    ------
    InputError
        On a malformed override, an unknown key or a wrongly typed value.
    """
    raw = to_dict(cfg)
    for item in overrides:
        if "=" not in item:
            raise InputError(f"--set {item}: expected section.key=value")
        key, value = item.split("=", 1)
        if "." not in key:
            raise InputError(f"--set {item}: key must be section.key (e.g. train.learning_rate)")
        section, name = key.split(".", 1)
        if section not in raw:
            raise InputError(f"--set {item}: unknown section {section!r} (known: {', '.join(raw)})")
        if name not in raw[section]:
            raise InputError(
                f"--set {item}: unknown key {section}.{name} (known: {', '.join(sorted(raw[section]))})"
            )
        raw[section][name] = _parse_value(value)
    return from_dict(raw, "--set")


def save(cfg: Config, path: str | Path) -> None:
    """Write the resolved config as JSON (reloadable with :func:`load`)."""
    Path(path).write_text(json.dumps(to_dict(cfg), indent=2) + "\n")
