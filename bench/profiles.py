"""Bench modes (``full``, ``quick``, ``tiny``): the sizes every section runs at.

:func:`make_profile` gives a mode's defaults on a platform; the CLI's flags then override single
fields of the returned :class:`Profile`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Interaction methods the bench times (``--methods``).
METHODS = ("raw", "attr", "fis", "dfim")
#: Model architectures the bench builds (``--archs``).
ARCHS = ("basic", "bilstm", "deep")
#: A cell is not run (but extrapolated) when its predicted extra memory exceeds this share of what
#: the system has available (the peak-RSS growth per example is taken from the smaller sizes).
MEMORY_FRACTION = 0.6


@dataclass
class Profile:
    """Sizes of one bench mode (``full``, ``quick`` or ``tiny``); flags override fields."""

    name: str
    length: int
    sizes: tuple[int, ...]
    caps: dict[str, int]
    repeats: int = 3
    budget_s: float = 60.0
    max_run_s: float = 900.0
    train_steps: int = 300
    train_batch: int = 128
    model: dict = field(default_factory=dict)
    scale_lengths: tuple[int, ...] = (300, 600, 1500)
    scale_n_raw: tuple[int, ...] = (500, 2000, 5000)
    scale_n_fis: tuple[int, ...] = (4, 8, 16)
    fis_scale_batch: int = 4
    scale_len_n_raw: int = 500
    scale_len_n_fis: int = 1
    train_lengths: tuple[int, ...] = (300, 600)
    train_timed_steps: int = 10
    peer_length: int = 300
    peer_batch: int = 128
    ig_batch: int = 32
    ig_steps: int = 20
    ctx_batch: int = 256
    """The interpret pipeline's ``--batch-size`` (raw/attr score ``min(ctx_batch, 64)`` examples a call)."""


def make_profile(name: str, platform: str) -> Profile:
    """The default sizes of a mode on a platform.

    Parameters
    ----------
    name
        ``full``, ``quick`` or ``tiny``.
    platform
        JAX platform (``cpu``, ``gpu``, ``tpu``); accelerators get larger ``full`` sizes.

    Returns
    -------
    Profile
        A fresh, mutable profile.

    Raises
    ------
    ValueError
        For an unknown mode.
    """
    if name == "full":
        p = Profile("full", 300, (500, 2000, 5000), {"fis": 16, "dfim": 8})
        if platform != "cpu":
            p.sizes = (500, 2000, 5000, 20000, 100000)
            p.caps = {"fis": 5000, "dfim": 2000}
            p.scale_n_fis = (64, 256, 1024)
            p.fis_scale_batch = 8
            p.scale_len_n_fis = 8
            p.max_run_s = 600.0
        return p
    small = {
        "num_filters": 32,
        "num_heads": 2,
        "head_dim": 16,
        "proj_dim": 32,
        "lstm_units": 16,
        "deep_channels": 32,
        "deep_blocks": 1,
    }
    if name == "quick":
        return Profile(
            "quick",
            100,
            (100, 300),
            {"fis": 4, "dfim": 4},
            repeats=2,
            budget_s=3.0,
            max_run_s=30.0,
            train_steps=0,
            train_batch=64,
            model=small,
            scale_lengths=(100, 200, 500),
            scale_n_raw=(100, 200, 400),
            scale_n_fis=(2, 4, 8),
            fis_scale_batch=2,
            scale_len_n_raw=100,
            scale_len_n_fis=1,
            train_lengths=(300, 600),
            train_timed_steps=3,
            peer_length=300,
            peer_batch=64,
            ig_batch=16,
        )
    if name == "tiny":
        tiny = {
            "num_filters": 8,
            "filter_width": 7,
            "num_heads": 2,
            "head_dim": 4,
            "proj_dim": 8,
            "lstm_units": 4,
            "deep_channels": 8,
            "deep_blocks": 1,
        }
        return Profile(
            "tiny",
            80,
            (8, 16),
            {"fis": 2, "dfim": 2},
            repeats=1,
            budget_s=1.0,
            max_run_s=10.0,
            train_steps=0,
            train_batch=16,
            model=tiny,
            scale_lengths=(80, 160),
            scale_n_raw=(8, 16),
            scale_n_fis=(2, 4),
            fis_scale_batch=2,
            scale_len_n_raw=8,
            scale_len_n_fis=2,
            train_lengths=(80,),
            train_timed_steps=2,
            peer_length=80,
            peer_batch=16,
            ig_batch=4,
            ctx_batch=2,
        )
    raise ValueError(f"unknown profile {name!r}")
