"""Sharded (2 host devices) training and prediction equal the single-device results.

The device count must be fixed before JAX starts, so the comparison runs in a subprocess with
``XLA_FLAGS=--xla_force_host_platform_device_count=2``.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import jax, numpy as np
    from jax.sharding import Mesh
    from satori_jax import config as config_lib, parallel
    from satori_jax.train import create_state, make_train_step, build_model
    from satori_jax.predict import predict_probs
    from satori_jax.data.pipeline import batch_iterator

    assert jax.device_count() == 2, jax.devices()
    cfg = config_lib.from_dict({"model": {"num_filters": 8, "filter_width": 5, "num_heads": 2, "head_dim": 4,
                                          "proj_dim": 8, "pool_size": 2, "dropout": 0.0, "attn_dropout": 0.0},
                                 # SGD: Adam would turn float noise in exactly-zero gradients
                                 # (e.g. key biases, which softmax ignores) into full-size steps
                                 "train": {"optimizer": "sgd", "learning_rate": 0.05}})
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 5, (48, 32)).astype(np.uint8)
    labels = rng.integers(0, 2, (48, 1)).astype(np.float32)
    results = []
    for devices in (jax.devices()[:1], jax.devices()):
        mesh = Mesh(np.asarray(devices), ("data",))
        state = parallel.replicate(create_state(cfg, 1, 32, jax.random.PRNGKey(0)), mesh)
        step = make_train_step(0.01, 0.05)
        losses = []
        for i, b in enumerate(batch_iterator(codes, labels, 16, shuffle=True, seed=0)):
            state, m = step(state, parallel.shard_batch(b, mesh), jax.random.PRNGKey(i))
            losses.append(float(m["loss"]))
        model = build_model(cfg.model, 1)
        variables = {"params": state.params, "batch_stats": state.batch_stats}
        probs = predict_probs(model, variables, codes, 10, mesh=mesh)
        results.append((np.array(losses), jax.device_get(state.params), probs))
    (l1, p1, q1), (l2, p2, q2) = results
    np.testing.assert_allclose(l1, l2, rtol=1e-5, atol=1e-6)
    for a, b in zip(jax.tree_util.tree_leaves(p1), jax.tree_util.tree_leaves(p2)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(q1, q2, rtol=1e-5, atol=1e-6)
    assert q2.shape == (48, 1)
    print("SHARDED-OK")
    """
)


def test_two_device_training_matches_one_device():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "SHARDED-OK" in proc.stdout


def test_first_error_in_one_process_is_a_plain_raise():
    """With one process the meeting point is a no-op, or re-raises the very exception given."""
    from satori_jax import parallel

    parallel.first_error(None, "nothing")
    err = ValueError("boom")
    with pytest.raises(ValueError) as info:
        parallel.first_error(err, "somewhere")
    assert info.value is err


def test_a_process_that_cannot_see_process_zeros_out_dir_says_so(tmp_path):
    """Several processes need one shared --out: a host that does not see process 0's settings
    file (another disk, or stale settings) gets a clear error naming the directory."""
    from satori_jax.errors import InputError
    from satori_jax.interpret.accumulate import DirStore
    from satori_jax.interpret.accumulate import settings_hash as _settings_hash

    def _check_shared(root, settings):
        DirStore(root).check_shared(settings)

    settings = {"chunk_size": 10}
    with pytest.raises(InputError, match="shared file system"):
        _check_shared(tmp_path, settings)
    (tmp_path / "settings.json").write_text(json.dumps({"hash": _settings_hash({"chunk_size": 11})}))
    with pytest.raises(InputError, match=str(tmp_path)):
        _check_shared(tmp_path, settings)
    (tmp_path / "settings.json").write_text(json.dumps({"hash": _settings_hash(settings)}))
    _check_shared(tmp_path, settings)
