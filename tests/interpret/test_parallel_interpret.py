"""Sharded (2 host devices) interpretation scorers equal the single-device results.

The device count must be fixed before JAX starts, so the comparison runs in a subprocess with
``XLA_FLAGS=--xla_force_host_platform_device_count=2``; ``use_mesh`` picks one device or both.
"""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import jax, numpy as np
    from jax.sharding import Mesh
    from satori_jax.config import ModelConfig
    from satori_jax.models import build_model, init_variables
    from satori_jax.interpret import fis, dfim, ig
    from satori_jax.interpret.activity import filter_thresholds
    from satori_jax.interpret.attention import attr_scorer, raw_scorer
    from satori_jax.interpret.interactions import Placement, score_examples, use_mesh

    assert jax.device_count() == 2, jax.devices()
    cfg = ModelConfig(num_filters=8, filter_width=5, num_heads=2, head_dim=4, proj_dim=8, pool_size=2)
    L = 32
    model = build_model(cfg, 1)
    variables = init_variables(model, jax.random.PRNGKey(0), L)
    codes = np.random.default_rng(0).integers(0, 4, (11, L)).astype(np.uint8)  # odd: padding on 2 devices
    codes[1, 7] = 4
    thr = filter_thresholds(model, variables, codes, 0.5)
    res = {}
    for name, devices in (("one", jax.devices()[:1]), ("two", jax.devices())):
        with use_mesh(Mesh(np.asarray(devices), ("data",))):
            place = Placement()
            assert (place.mesh is None) == (name == "one")
            res[name] = {
                "raw": score_examples(raw_scorer(model), model, variables, codes, None, thr, batch_size=5),
                "attr": score_examples(attr_scorer(model, steps=4), model, variables, codes, None, thr,
                                       batch_size=3),
                "fis": fis.fis_scores(model, variables, codes, None, thr, steps=4, batch_size=3),
                "dfim": dfim.dfim_scores(model, variables, codes, None, thr, batch_size=3),
                "ig": ig.batched(lambda x, t, v: ig.integrated_gradients(model, v, x, t, steps=4), codes,
                                 None, 3, args=(variables,)),
            }
    # default placement with 2 devices visible shards over both
    assert Placement().mesh is not None and Placement().mesh.size == 2
    for m in ("raw", "attr", "fis", "dfim"):
        a, b = res["one"][m], res["two"][m]
        assert len(a) == len(b) > 0, (m, len(a), len(b))
        assert a.n_examples == b.n_examples == len(codes)
        for f in ("example", "filter_a", "filter_b", "distance"):
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=m + " " + f)
        np.testing.assert_allclose(a.score, b.score, rtol=1e-5, atol=1e-6, err_msg=m)
    np.testing.assert_allclose(res["one"]["ig"], res["two"]["ig"], rtol=1e-5, atol=1e-6)
    assert res["two"]["ig"].shape == (11, L, 4)
    print("SHARDED-INTERPRET-OK")
    """
)


def test_two_device_scorers_match_one_device():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "SHARDED-INTERPRET-OK" in proc.stdout
