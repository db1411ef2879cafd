"""Settings: which database, and what may be printed."""

from __future__ import annotations

from entrypoints.config import DEFAULT_SQLITE_URL, database_url, load_settings, masked


def test_the_embedded_sqlite_file_is_the_default():
    assert database_url({}) == DEFAULT_SQLITE_URL


def test_the_seed_variables_point_at_postgres():
    env = {
        "RS_DB_HOST": "db",
        "RS_DB_PORT": "6543",
        "RS_DB_NAME": "lms",
        "RS_DB_USER": "app",
        "RS_DB_PASSWORD": "p@ss",
    }
    assert database_url(env) == "postgresql+psycopg://app:p%40ss@db:6543/lms"


def test_rs_database_url_wins():
    assert (
        database_url({"RS_DATABASE_URL": "sqlite:///x.db", "RS_DB_HOST": "db"}) == "sqlite:///x.db"
    )


def test_secrets_are_masked():
    settings = load_settings(
        {"RS_ADMIN_TOKEN": "t0k3n", "RS_DB_HOST": "db", "RS_DB_PASSWORD": "pw"}
    )
    shown = masked(settings)
    assert shown["admin_token"] == "***" and "pw" not in shown["database_url"]


def test_model_sizes_come_from_the_two_tower_yaml():
    settings = load_settings({})
    assert settings["embedding_dim"] == settings["two_tower"]["embedding_dim"] == 128
    assert load_settings({"EMBEDDING_DIM": "32"})["two_tower"]["embedding_dim"] == 32


def test_size_defaults_are_the_tower_defaults_when_no_yaml_sets_them(tmp_path):
    from adapters.two_tower.model import TowerConfig

    (tmp_path / "empty.yaml").write_text("")
    settings = load_settings({"RS_TWO_TOWER_CONFIG": str(tmp_path / "empty.yaml")})
    for key in ("embedding_dim", "user_feature_dim", "item_feature_dim"):
        assert settings[key] == getattr(TowerConfig(), key)


def test_the_trainer_and_tuner_settings_have_their_defaults():
    settings = load_settings({})
    assert settings["fit_interval_seconds"] == 60
    assert settings["tuning_budget_seconds"] == 120
    assert settings["max_clock_skew_seconds"] == 300


def test_item_cfs_settings_can_be_pinned_and_a_bad_value_is_named():
    import pytest

    from entrypoints.config import ConfigError

    settings = load_settings(
        {"RS_ITEM_CF_PROXIMITY_WEIGHT": "0", "RS_ITEM_CF_REGULARIZATION": "50"}
    )
    assert settings["tuning_pins"]["item_cf"] == {"proximity_weight": 0.0, "regularization": 50.0}
    assert "item_cf" not in load_settings({})["tuning_pins"]
    for bad in ("-1", "1e39", "nan"):
        with pytest.raises(ConfigError, match="RS_ITEM_CF_PROXIMITY_WEIGHT"):
            load_settings({"RS_ITEM_CF_PROXIMITY_WEIGHT": bad})


def test_a_yaml_size_that_is_not_a_positive_integer_is_rejected(tmp_path):
    import pytest

    from entrypoints.config import ConfigError

    path = tmp_path / "tt.yaml"
    path.write_text("embedding_dim: -4\n")
    with pytest.raises(ConfigError, match="embedding_dim=-4"):
        load_settings({"RS_TWO_TOWER_CONFIG": str(path)})


def test_a_two_tower_config_that_does_not_exist_is_a_configuration_error(tmp_path):
    import pytest

    from entrypoints.config import ConfigError

    missing = str(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError) as raised:
        load_settings({"RS_TWO_TOWER_CONFIG": missing})
    assert str(raised.value) == f"invalid setting RS_TWO_TOWER_CONFIG={missing!r}: no such file"


def test_the_shipped_two_tower_config_is_used_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings({})
    assert settings["embedding_dim"] == 128 and settings["two_tower"]["members"] == 3
    assert load_settings({"RS_TWO_TOWER_CONFIG": "configs/two_tower.yaml"})["two_tower"] == (
        settings["two_tower"]
    )
