import json

import pytest

from satori_jax import config as config_lib
from satori_jax.errors import InputError


def test_defaults_and_round_trip(tmp_path):
    cfg = config_lib.Config()
    path = tmp_path / "config.json"
    config_lib.save(cfg, path)
    assert config_lib.load(path) == cfg
    assert json.loads(path.read_text())["model"]["num_filters"] == 200


def test_overrides_parse_types():
    cfg = config_lib.apply_overrides(
        config_lib.Config(),
        [
            "train.epochs=3",
            "train.learning_rate=0.01",
            "model.arch=deep",
            "data.rc_augment=true",
            'data.val_chroms=["chr8","chr9"]',
        ],
    )
    assert cfg.train.epochs == 3 and cfg.train.learning_rate == 0.01
    assert cfg.model.arch == "deep" and cfg.data.rc_augment is True
    assert cfg.data.val_chroms == ("chr8", "chr9")


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("train.nonsense=1", "unknown key train.nonsense"),
        ("bogus.epochs=1", "unknown section 'bogus'"),
        ("train.epochs=abc", "expected an integer"),
        ("train.epochs=1.5", "expected an integer"),
        ("model.arch=transformer", "must be one of"),
        ("train.learning_rate=-1", "learning_rate must be > 0"),
        ("epochs=3", "section.key"),
    ],
)
def test_bad_overrides(override, fragment):
    with pytest.raises(InputError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        config_lib.apply_overrides(config_lib.Config(), [override])


def test_bad_file_names_file_and_key(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[model]\nnum_filters = "many"\n')
    with pytest.raises(InputError, match="bad.toml: model.num_filters: expected an integer"):
        config_lib.load(path)
    path.write_text("[model\n")
    with pytest.raises(InputError, match="not a valid config file"):
        config_lib.load(path)


def test_shipped_configs_load():
    names = sorted(p.stem for p in config_lib.CONFIG_DIR.glob("*.toml"))
    for required in (
        "default",
        "simulated_basic",
        "simulated_basic_entropy",
        "simulated_deep",
        "simulated_bilstm",
        "promoter_multilabel",
    ):
        assert required in names
    for name in names:
        config_lib.load(config_lib.resolve_config_path(name))
