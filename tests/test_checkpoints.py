"""Checkpoints: the model variables restore without a template, also from another device topology."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np

from satori_jax import config as config_lib
from satori_jax.checkpoints import restore_variables, save_checkpoint
from satori_jax.train import create_state

TINY = ["model.num_filters=8", "model.filter_width=5", "model.num_heads=2", "model.head_dim=4",
        "model.proj_dim=8"]  # fmt: skip


def _cfg(extra=()):
    return config_lib.apply_overrides(config_lib.Config(), [*TINY, *extra])


def test_restore_variables_without_a_template(tmp_path):
    for extra in ((), ("model.batch_norm=false", "train.optimizer=sgd", "model.freeze_pwm=true")):
        state = create_state(_cfg(extra), 1, 32, jax.random.PRNGKey(0), pwms=[np.eye(4)[[0, 1, 2]]])
        save_checkpoint(tmp_path / str(len(extra)), 2, state, {"epoch": 2})
        variables, meta = restore_variables(tmp_path / str(len(extra)))
        assert meta == {"epoch": 2}
        assert ("batch_stats" in variables) == (not extra)
        leaves = jax.tree_util.tree_leaves(variables["params"])
        for a, b in zip(leaves, jax.tree_util.tree_leaves(state.params), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert restore_variables(tmp_path / "none") is None


def test_restore_variables_from_another_topology(tmp_path):
    """A checkpoint written replicated over two devices restores on this process's single device."""
    script = textwrap.dedent(f"""
        import jax
        from satori_jax import config as config_lib, parallel
        from satori_jax.checkpoints import save_checkpoint
        from satori_jax.train import create_state
        cfg = config_lib.apply_overrides(config_lib.Config(), {TINY!r})
        mesh = parallel.data_mesh()
        assert mesh.size == 2
        state = parallel.replicate(create_state(cfg, 1, 32, jax.random.PRNGKey(0)), mesh)
        save_checkpoint({str(tmp_path / "ck")!r}, 1, state, {{"epoch": 1}})
    """)
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    variables, _ = restore_variables(tmp_path / "ck")
    fresh = create_state(_cfg(), 1, 32, jax.random.PRNGKey(0))
    for a, b in zip(jax.tree_util.tree_leaves(variables), jax.tree_util.tree_leaves(
            {"params": fresh.params, "batch_stats": fresh.batch_stats}), strict=True):  # fmt: skip
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_truncated_array_file_is_one_input_error(tmp_path):
    """A checkpoint of the default-size model with one array file cut in half (a copy interrupted
    mid-file): orbax fails with a bare ``Exception`` from a read coroutine; the user gets the one
    :class:`InputError` naming the checkpoint, like any other damage."""
    import pytest

    from satori_jax.errors import InputError

    state = create_state(config_lib.Config(), 1, 200, jax.random.PRNGKey(0))
    save_checkpoint(tmp_path / "ck", 0, state, {"epoch": 0})
    files = [f for f in (tmp_path / "ck").rglob("*") if f.is_file() and f.parent.name == "d"]
    big = max(files, key=lambda f: f.stat().st_size)
    assert big.stat().st_size > 20_000  # array data, not a b-tree node
    os.truncate(big, big.stat().st_size // 2)
    with pytest.raises(InputError, match="unreadable checkpoint") as info:
        restore_variables(tmp_path / "ck")
    assert str(tmp_path / "ck") in str(info.value) and "\n" not in str(info.value)
