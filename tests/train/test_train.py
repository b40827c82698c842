import json

import jax
import numpy as np
import pytest

from satori_jax import config as config_lib
from satori_jax.checkpoints import restore_checkpoint, save_checkpoint
from satori_jax.data.datasets import Dataset
from satori_jax.data.pipeline import batch_iterator
from satori_jax.data.splits import random_split
from satori_jax.train import create_state, fit, make_train_step

TINY = {
    "num_filters": 8,
    "filter_width": 5,
    "num_heads": 2,
    "head_dim": 4,
    "proj_dim": 8,
    "lstm_units": 4,
    "deep_channels": 8,
    "deep_blocks": 1,
    "pool_size": 2,
}


def _cfg(arch="basic", **train):
    raw = {"model": {**TINY, "arch": arch}, "train": {"batch_size": 16, "epochs": 2, "patience": 5, **train}}
    return config_lib.from_dict(raw)


def _toy(n=160, length=32, seed=0):
    """Positives carry the word ACGTAC; label = presence."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, (n, length)).astype(np.uint8)
    y = np.arange(n) % 2
    word = np.array([0, 1, 2, 3, 0, 1], np.uint8)
    pos = rng.integers(0, length - 6, n)
    for i in np.nonzero(y)[0]:
        codes[i, pos[i] : pos[i] + 6] = word
    return Dataset(
        ids=[f"s{i}" for i in range(n)],
        codes=codes,
        labels=y[:, None].astype(np.float32),
        label_names=["label"],
    )


@pytest.mark.parametrize("arch", ["basic", "bilstm", "deep"])
def test_one_step_each_variant(arch):
    ds = _toy(32)
    cfg = _cfg(arch, entropy_weight=0.01)
    state = create_state(cfg, 1, 32, jax.random.PRNGKey(0))
    step = make_train_step(0.01, 1e-3)
    before = jax.tree_util.tree_map(np.asarray, state.params)
    batch = next(batch_iterator(ds.codes, ds.labels, 16, shuffle=True, seed=0))
    state, m = step(state, batch, jax.random.PRNGKey(1))
    assert np.isfinite(float(m["loss"])) and float(m["entropy"]) > 0
    assert float(m["loss"]) == pytest.approx(float(m["bce"]) + 0.01 * float(m["entropy"]), rel=1e-5)
    changed = jax.tree_util.tree_map(lambda a, b: not np.allclose(a, np.asarray(b)), before, state.params)
    assert all(jax.tree_util.tree_leaves(changed))


def test_entropy_weight_zero_reports_entropy_and_trains_on_bce_alone():
    from satori_jax.models.losses import attention_entropy, bce_loss

    ds = _toy(32)
    cfg = config_lib.from_dict(
        {
            "model": {**TINY, "arch": "basic", "dropout": 0.0, "attn_dropout": 0.0},
            # plain SGD: the update is -lr · gradient (Adam's first step is ±lr whatever its size)
            "train": {"batch_size": 16, "optimizer": "sgd", "momentum": 0.0, "learning_rate": 1.0},
        }
    )
    state = create_state(cfg, 1, 32, jax.random.PRNGKey(0))
    batch = next(batch_iterator(ds.codes, ds.labels, 16, shuffle=True, seed=0))
    x = jax.nn.one_hot(batch["x"], 4)
    variables = {"params": state.params, "batch_stats": state.batch_stats}
    (_, inter), _ = state.apply_fn(variables, x, train=True, mutable=["batch_stats"])
    expected_entropy = float(attention_entropy(inter["attention"], batch["mask"]))

    def bce_only(params):
        (logits, _), _ = state.apply_fn(
            {"params": params, "batch_stats": state.batch_stats}, x, train=True, mutable=["batch_stats"]
        )
        return bce_loss(logits, batch["y"], batch["mask"])

    grads = jax.grad(bce_only)(state.params)
    expected_params = state.apply_gradients(grads=grads).params
    new, m = make_train_step(0.0, 1.0)(state, batch, jax.random.PRNGKey(1))
    assert float(m["entropy"]) == pytest.approx(expected_entropy, rel=1e-5) and expected_entropy > 0
    assert float(m["loss"]) == pytest.approx(float(m["bce"]), rel=1e-6)
    leaves = jax.tree_util.tree_leaves(new.params), jax.tree_util.tree_leaves(expected_params)
    for a, b in zip(*leaves, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)


def test_train_step_compiles_once_and_padding_is_masked():
    ds = _toy(40)
    cfg = _cfg()
    state = create_state(cfg, 1, 32, jax.random.PRNGKey(0))
    step = make_train_step(0.0, 1e-3)
    batches = list(batch_iterator(ds.codes, ds.labels, 16, shuffle=True, seed=0))
    assert len(batches) == 3 and batches[-1]["mask"].sum() == 8
    for i, b in enumerate(batches):
        state, _ = step(state, b, jax.random.PRNGKey(i))
    assert step._cache_size() == 1


def test_padded_rows_do_not_change_the_loss():
    ds = _toy(16)
    cfg = _cfg(entropy_weight=0.01)
    cfg = config_lib.apply_overrides(
        cfg, ["model.batch_norm=false", "model.dropout=0.0", "model.attn_dropout=0.0"]
    )
    state = create_state(cfg, 1, 32, jax.random.PRNGKey(0))
    step = make_train_step(0.01, 1e-3)
    full = {"x": ds.codes[:8], "y": ds.labels[:8], "mask": np.ones(8, np.float32)}
    padded = {
        "x": np.concatenate([ds.codes[:8], ds.codes[8:]]),
        "y": np.concatenate([ds.labels[:8], 1 - ds.labels[8:]]),
        "mask": np.r_[np.ones(8), np.zeros(8)].astype(np.float32),
    }
    _, m1 = make_train_step(0.01, 1e-3)(
        create_state(cfg, 1, 32, jax.random.PRNGKey(0)), full, jax.random.PRNGKey(1)
    )
    _, m2 = step(state, padded, jax.random.PRNGKey(1))
    assert float(m1["loss"]) == pytest.approx(float(m2["loss"]), rel=1e-5)
    assert float(m1["grad_norm"]) == pytest.approx(float(m2["grad_norm"]), rel=1e-4)


def test_checkpoint_round_trip(tmp_path):
    ds = _toy(32)
    cfg = _cfg()
    state = create_state(cfg, 1, 32, jax.random.PRNGKey(0))
    step = make_train_step(0.0, 1e-3)
    for i, b in enumerate(batch_iterator(ds.codes, ds.labels, 16, shuffle=True, seed=0)):
        state, _ = step(state, b, jax.random.PRNGKey(i))
    save_checkpoint(tmp_path / "ck", 3, state, {"epoch": 3})
    fresh = create_state(cfg, 1, 32, jax.random.PRNGKey(5))
    restored, meta = restore_checkpoint(tmp_path / "ck", fresh)
    assert meta == {"epoch": 3}
    for a, b in zip(
        jax.tree_util.tree_leaves((state.params, state.opt_state, state.batch_stats)),
        jax.tree_util.tree_leaves((restored.params, restored.opt_state, restored.batch_stats)),
        strict=True,
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert int(restored.step) == int(state.step)


def test_frozen_pwm_filters_do_not_move():
    cfg = config_lib.apply_overrides(_cfg(optimizer="sgd", weight_decay=0.01), ["model.freeze_pwm=true"])
    pwm = np.eye(4)[[0, 1, 2]]
    state = create_state(cfg, 1, 32, jax.random.PRNGKey(0), pwms=[pwm])
    k0 = np.asarray(state.params["conv"]["kernel"])
    ds = _toy(32)
    step = make_train_step(0.0, 1e-3)
    for i, b in enumerate(batch_iterator(ds.codes, ds.labels, 16, shuffle=True, seed=0)):
        state, _ = step(state, b, jax.random.PRNGKey(i))
    k1 = np.asarray(state.params["conv"]["kernel"])
    np.testing.assert_array_equal(k0[..., 0], k1[..., 0])
    assert not np.allclose(k0[..., 1:], k1[..., 1:])


def _fit(tmp_path, name, **kw):
    ds = _toy(240)
    cfg = _cfg(epochs=kw.pop("epochs", 3), learning_rate=5e-3)
    splits = random_split(len(ds.ids), 0)
    run = tmp_path / name
    run.mkdir()
    logs = []
    test = fit(cfg, ds, splits, run, verbose=False, log=logs.append, **kw)
    return run, test, logs


@pytest.fixture(scope="module")
def toy_fit(tmp_path_factory):
    """One 3-epoch fit, the reference of the determinism and resume tests below (nothing writes to it)."""
    return _fit(tmp_path_factory.mktemp("fit"), "a")


def test_fit_deterministic_and_writes_run_files(toy_fit, tmp_path):
    run, t1, _ = toy_fit
    _, t2, _ = _fit(tmp_path, "b")
    for key in ("auroc_mean", "auprc_mean", "auroc", "auprc"):
        assert t1[key] == t2[key]
    assert json.loads((run / "test_metrics.json").read_text())["auroc_mean"] == t1["auroc_mean"]
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3 and "val_auroc" in json.loads(lines[0])
    with np.load(run / "test_predictions.npz") as z:
        assert z["probs"].shape == z["labels"].shape == (24, 1) and z["codes"].shape == (24, 32)


def test_resume_matches_uninterrupted(toy_fit, tmp_path):
    _, full, _ = toy_fit  # 3 epochs uninterrupted
    run, _, _ = _fit(tmp_path, "part", epochs=1)
    (run / "test_metrics.json").unlink()
    ds = _toy(240)
    cfg = _cfg(epochs=3, learning_rate=5e-3)
    logs = []
    resumed = fit(cfg, ds, random_split(240, 0), run, resume=True, verbose=False, log=logs.append)
    assert any("resumed from epoch 1 of 3" in line and "continuing with epoch 2" in line for line in logs)
    assert resumed["auroc_mean"] == full["auroc_mean"] and resumed["auprc_mean"] == full["auprc_mean"]


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    """A NaN loss in epoch 2 stops training with a clear message; epoch 1's checkpoint stays the latest."""
    import satori_jax.train as train_lib

    real = train_lib.make_train_step
    calls = {"n": 0}

    def poisoned(entropy_weight, learning_rate):
        step = real(entropy_weight, learning_rate)

        def wrapped(state, batch, rng):
            calls["n"] += 1
            state, m = step(state, batch, rng)
            if calls["n"] > 12:  # 12 batches per epoch below: epoch 2 goes bad
                m = {**m, "loss": m["loss"] * np.nan}
            return state, m

        return wrapped

    monkeypatch.setattr(train_lib, "make_train_step", poisoned)
    ds = _toy(240)
    run = tmp_path / "nan"
    run.mkdir()
    with pytest.raises(FloatingPointError, match="non-finite training loss in epoch 2"):
        fit(_cfg(epochs=3), ds, random_split(240, 0), run, verbose=False, log=lambda *_: None)
    state = create_state(_cfg(), 1, 32, jax.random.PRNGKey(0))
    _, meta = restore_checkpoint(run / "checkpoints" / "latest", state)
    assert meta["epoch"] == 0
    assert not (run / "test_metrics.json").exists()


def test_min_delta_stops_on_a_saturated_auroc(tmp_path):
    """Gains below train.min_delta do not reset patience; the best checkpoint still follows any gain."""
    ds = _toy(240)
    cfg = _cfg(epochs=6, learning_rate=5e-3, patience=2, min_delta=1.0)
    logs = []
    test = fit(cfg, ds, random_split(len(ds.ids), 0), tmp_path, verbose=False, log=logs.append)
    # only the first epoch counts as progress (no AUROC gains 1.0), so patience 2 stops after epoch 3
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    aurocs = [json.loads(ln)["val_auroc"] for ln in lines]
    assert len(aurocs) == 3
    assert any("early stop" in line and "by more than 1" in line for line in logs)
    assert test["best_val_auroc"] == max(aurocs) and test["stopped"].startswith("early stop")
    with pytest.raises(config_lib.InputError, match="min_delta"):
        config_lib.from_dict({"train": {"min_delta": -1}})
