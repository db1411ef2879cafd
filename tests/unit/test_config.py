"""Settings: which database, and what may be printed."""

from __future__ import annotations

from entrypoints.config import DEFAULT_SQLITE_URL, database_url, load_settings, masked


def test_the_embedded_sqlite_file_is_the_default():
    assert database_url({}) == DEFAULT_SQLITE_URL


def test_the_server_listens_on_the_readmes_port_by_default():
    assert load_settings({})["port"] == 8002
    assert load_settings({"RS_PORT": "9000"})["port"] == 9000


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
    assert (
        load_settings({"RS_TWO_TOWER_CONFIG": "configs/two_tower.yaml"})["two_tower"]
        == (settings["two_tower"])
    )


def test_durations_and_weights_that_would_fail_at_request_time_stop_the_service_at_start():
    import pytest

    from entrypoints.config import ConfigError

    for variable, value in [
        ("RS_MAX_CLOCK_SKEW", "inf"),  # an event's latest time overflowed: every POST a 500
        ("RS_MAX_CLOCK_SKEW", "1e300"),
        ("HYBRID_WEIGHTS_CONTENT", "inf"),  # every blended score 1.0
        ("RS_TRAIN_INTERVAL", "1e300"),
        ("RS_REFRESH_SECONDS", "nan"),
        ("RS_DB_TIMEOUT_SECONDS", "1e7"),  # PostgreSQL refused every connection
        ("RS_DB_TIMEOUT_SECONDS", "0.0001"),  # statement_timeout=0: no timeout at all
    ]:
        with pytest.raises(ConfigError, match=f"^invalid setting {variable}={value!r}: "):
            load_settings({variable: value})


def test_configured_hybrid_weights_follow_the_rules_and_words_of_a_requests_weights():
    import pytest

    from application.hybrid import InvalidWeights, parse_weights
    from entrypoints.config import ConfigError

    for text in ("two_tower:1e300", "item_cf:-0.5"):
        with pytest.raises(InvalidWeights) as asked:
            parse_weights(text, ["two_tower", "item_cf"])
        name, value = text.split(":")
        variable = f"HYBRID_WEIGHTS_{name.upper()}"
        with pytest.raises(ConfigError) as configured:
            load_settings({variable: value})
        assert str(configured.value) == f"invalid setting {variable}={value!r}: {asked.value}"
    assert (
        load_settings({"HYBRID_WEIGHTS_POPULARITY": "1000"})["hybrid_weights"]["popularity"] == 1000
    )


def test_pinned_hybrid_weights_that_can_never_blend_stop_the_service_at_start():
    import pytest

    from entrypoints.config import ConfigError

    zero = {f"HYBRID_WEIGHTS_{n}": "0" for n in ("TWO_TOWER", "CONTENT", "ITEM_CF")}
    # setting any weight pins all five: popularity and sequence stay at their default, 0
    with pytest.raises(ConfigError, match="at least one weight must be positive") as refused:
        load_settings(zero)
    assert "HYBRID_WEIGHTS_POPULARITY=0 (default)" in str(refused.value)
    with pytest.raises(ConfigError, match="at least one weight must be positive"):
        load_settings(zero | {"HYBRID_WEIGHTS_POPULARITY": "0", "HYBRID_WEIGHTS_SEQUENCE": "0"})
    # zero for some, the rest positive by default or as given: a blend is possible
    assert load_settings({"HYBRID_WEIGHTS_TWO_TOWER": "0"})["hybrid_weights"]["item_cf"] == 0.25
    assert load_settings(zero | {"HYBRID_WEIGHTS_SEQUENCE": "0.5"})["tuning_pins"]["hybrid"]


def test_a_popularity_half_life_of_zero_means_plain_counts_as_documented():
    assert load_settings({"RS_POPULARITY_HALF_LIFE_DAYS": "0"})["popularity_half_life_days"] == 0


def test_show_config_says_a_database_timeout_came_from_the_environment():
    from entrypoints.config import sources

    env = {"RS_DB_TIMEOUT_SECONDS": "5"}
    came_from = sources(load_settings(env), env, {"RS_DB_TIMEOUT_SECONDS": "environment"})
    assert came_from["db_timeout_seconds"] == "RS_DB_TIMEOUT_SECONDS (environment)"


def test_a_models_dir_that_names_a_file_stops_the_service_at_start(tmp_path):
    import pytest

    from entrypoints.config import ConfigError

    (tmp_path / "models").write_text("not a folder")
    with pytest.raises(ConfigError, match=r"^invalid setting RS_MODELS_DIR='.*models': not a "):
        load_settings({"RS_MODELS_DIR": str(tmp_path / "models")})


def test_a_refused_database_url_is_echoed_with_its_password_masked():
    import pytest

    from entrypoints.config import ConfigError

    with pytest.raises(ConfigError) as refused:
        load_settings({"RS_DATABASE_URL": "mysql://app:hunter2@db/lms"})
    assert "hunter2" not in str(refused.value)
    assert "RS_DATABASE_URL='mysql://app:***@db/lms'" in str(refused.value)


def test_a_password_holding_an_at_sign_or_without_a_user_is_masked_whole():
    for url in ("postgresql://app:hun@ter2@db/lms", "postgresql://:hunter2@db/lms"):
        shown = masked({"database_url": url, "admin_token": "", "xapi_secret": ""})
        assert "hun" not in shown["database_url"] and "***@db/lms" in shown["database_url"]


def test_a_password_given_as_a_query_parameter_is_masked():
    url = "postgresql+psycopg://app@db/lms?sslpassword=key2&password=hunter2&connect_timeout=5"
    shown = masked({"database_url": url, "admin_token": "", "xapi_secret": ""})
    assert shown["database_url"] == (
        "postgresql+psycopg://app@db/lms?sslpassword=***&password=***&connect_timeout=5"
    )


def test_a_password_parameter_whose_name_is_percent_encoded_is_masked_too():
    """The driver decodes parameter names as it does values: pass%77ord is its password."""
    url = "postgresql+psycopg://app@db/lms?pass%77ord=hunter2&ssl%50ASSWORD=key2&sslmode=require"
    shown = masked({"database_url": url, "admin_token": "", "xapi_secret": ""})
    assert "hunter2" not in shown["database_url"] and "key2" not in shown["database_url"]
    assert shown["database_url"].endswith("&sslmode=require")


def test_a_database_url_the_driver_could_never_use_stops_the_service_at_start():
    import pytest

    from entrypoints.config import ConfigError

    for url, why in [
        ("postgresql+psycopg://app:hunter2@db:abc/lms", "port"),  # a traceback at connect
        ("postgresql+psycopg://app:hunter2@db/lms?port=abc", "port"),  # at engine building
        ("sqlite://", "file"),  # an empty in-memory database in every process
        ("sqlite:///", "file"),
    ]:
        with pytest.raises(ConfigError, match=why) as refused:
            load_settings({"RS_DATABASE_URL": url})
        assert "hunter2" not in str(refused.value)


def test_a_postgresql_url_without_a_database_name_is_refused_not_sent_to_the_users_database(
    monkeypatch,
):
    """PostgreSQL connects a URL without one to the database named after the user (`postgres`,
    the maintenance database), which then "has no schema: run `recsys init-db`"."""
    import pytest

    from entrypoints.config import ConfigError

    monkeypatch.delenv("PGDATABASE", raising=False)
    for url in (
        "postgresql+psycopg://postgres:hunter2@127.0.0.1:5432/",
        "postgresql://postgres:hunter2@127.0.0.1:5432",
        "postgresql+psycopg://postgres:hunter2@127.0.0.1:5432/?sslmode=disable",
    ):
        with pytest.raises(ConfigError) as refused:
            load_settings({"RS_DATABASE_URL": url})
        said = str(refused.value)
        assert said.startswith("invalid setting RS_DATABASE_URL='postgresql"), said
        assert "no database name" in said and "hunter2" not in said, said
    # libpq's own ways of naming it
    assert load_settings({"RS_DATABASE_URL": "postgresql://app@/?dbname=lms&host=/run/pg"})
    assert load_settings({"RS_DATABASE_URL": "postgresql://app@/?service=recsys"})
    monkeypatch.setenv("PGSERVICE", "recsys")  # pg_service.conf names the database
    assert load_settings({"RS_DATABASE_URL": "postgresql+psycopg://app@db:5432/"})
    monkeypatch.delenv("PGSERVICE")
    monkeypatch.setenv("PGDATABASE", "lms")
    assert load_settings({"RS_DATABASE_URL": "postgresql+psycopg://app@db:5432/"})


def test_a_statement_timeout_in_the_urls_options_is_refused_for_rs_db_timeout_seconds():
    """The service ends a statement a second after RS_DB_TIMEOUT_SECONDS on its own (a frozen
    server never enforces statement_timeout), and migrations need a longer one: a URL's own
    statement_timeout could not hold, so it is refused, not silently cut short."""
    import pytest

    from entrypoints.config import ConfigError

    server = "postgresql+psycopg://app:hunter2@db/lms"
    for options in (
        "-c%20statement_timeout%3D60s",
        "--statement-timeout=60000",
        "-cStatement_Timeout=0",
    ):
        with pytest.raises(ConfigError) as refused:
            load_settings({"RS_DATABASE_URL": f"{server}?options={options}"})
        said = str(refused.value)
        assert said.startswith("invalid setting RS_DATABASE_URL='postgresql"), said
        assert said.endswith(
            "its options set statement_timeout, which the service sets from "
            "RS_DB_TIMEOUT_SECONDS (and enforces itself): set RS_DB_TIMEOUT_SECONDS instead"
        ), said
        assert "hunter2" not in said
    # the service's other timeouts, and any other parameter, are the URL's to set
    for options in (
        "-c%20lock_timeout%3D1s",
        "-c%20search_path%3Dlms",
        "-c%20idle_session_timeout%3D9",
    ):
        assert load_settings({"RS_DATABASE_URL": f"{server}?options={options}"})


def test_a_database_name_is_a_name_in_the_url_rs_db_host_makes():
    """RS_DB_NAME='?' made a URL without a database name, RS_DB_NAME='lms?sslmode=x' one with an
    option nobody set."""
    from sqlalchemy.engine import make_url

    for name in ("?", "lms?sslmode=x", "a/b", "50%"):
        url = make_url(database_url({"RS_DB_HOST": "db", "RS_DB_NAME": name}))
        assert url.database == name and not url.query, url


def test_a_bad_value_in_the_two_tower_yaml_stops_a_command_at_start_not_the_next_training(
    tmp_path,
):
    import pytest

    from entrypoints.config import ConfigError

    for line, named in [
        ("epochs: lots", "epochs='lots': Input should be a valid integer"),  # a TypeError mid-fit
        ("objective: sideways", "objective='sideways': Input should be 'all' or 'next'"),
        ("recency_decay: 2", "recency_decay=2: Input should be less than or equal to 1"),
        ("learning_rte: 0.1", "learning_rte: unknown setting"),
        ("event_types: [view, like]", "event_types=['view', 'like']"),
        ("epochs: true", "epochs=True: Input should be a valid integer"),  # not read as 1
        ("hidden_dims: [256, -1]", "hidden_dims=[256, -1]: Input should be greater than"),
    ]:
        (tmp_path / "bad.yaml").write_text(line + "\n")
        with pytest.raises(ConfigError, match="bad.yaml: ") as refused:
            load_settings({"RS_TWO_TOWER_CONFIG": str(tmp_path / "bad.yaml")})
        assert named in str(refused.value)


def test_a_two_tower_yaml_that_is_the_wrong_file_is_refused_without_echoing_its_values(
    tmp_path,
):
    """RS_TWO_TOWER_CONFIG pointed at another YAML (a deployment's values, with its secrets)
    printed each unknown key with its value, into every log the error reaches."""
    import pytest

    from entrypoints.config import ConfigError

    (tmp_path / "values.yaml").write_text("db_password: hunter2\nepochs: 3\n")
    with pytest.raises(ConfigError) as refused:
        load_settings({"RS_TWO_TOWER_CONFIG": str(tmp_path / "values.yaml")})
    assert "db_password: unknown setting" in str(refused.value)
    assert "hunter2" not in str(refused.value)
    # a file that is no YAML of settings reads as keys that are whole lines, a hash among them
    (tmp_path / "shadow").write_text("root:$6$salt$hash:20228:0:99999:7:::\n")
    with pytest.raises(ConfigError) as refused:
        load_settings({"RS_TWO_TOWER_CONFIG": str(tmp_path / "shadow")})
    assert "$6$" not in str(refused.value) and "1 key that names no setting" in str(refused.value)


def test_the_two_tower_yaml_checks_every_setting_the_model_and_its_training_take():
    import dataclasses

    from adapters.two_tower.model import TowerConfig
    from adapters.two_tower.training import TrainConfig
    from entrypoints.two_tower_yaml import TwoTowerYaml

    taken = {f.name for c in (TowerConfig, TrainConfig) for f in dataclasses.fields(c)}
    assert set(TwoTowerYaml.model_fields) == taken


def test_the_shipped_two_tower_yamls_pass_their_checks():
    from entrypoints.config import PROJECT, two_tower_settings

    for path in sorted((PROJECT / "configs").glob("two_tower*.yaml")):
        assert two_tower_settings({}, path)["epochs"] >= 1


def test_a_password_holding_a_raw_slash_is_masked_and_the_error_says_to_percent_encode_it():
    import pytest

    from entrypoints.config import ConfigError

    for url in (
        "postgresql+psycopg://u:hun/ter2@127.0.0.1:5432/lms",
        "postgresql+psycopg://u:12/hunter2@db/lms",  # "u:12" reads as a host and port
        "postgresql+psycopg://u:hun?ter2@db/lms",
        "postgresql+psycopg://u:hun#ter2@db/lms",
    ):
        with pytest.raises(ConfigError) as refused:
            load_settings({"RS_DATABASE_URL": url})
        message = str(refused.value)
        assert "hun" not in message and "ter2" not in message, message
        assert "percent-encode" in message and "%2F" in message, message
        assert "hun" not in masked({"database_url": url})["database_url"]


def test_the_admin_token_loses_the_newline_a_file_it_was_read_from_ends_with():
    assert load_settings({"RS_ADMIN_TOKEN": " tok-123\n"})["admin_token"] == "tok-123"


def test_an_admin_token_no_header_can_carry_is_refused_without_echoing_it():
    import pytest

    from entrypoints.config import ConfigError

    for token, why in [
        (" ", "only whitespace"),
        ("\t\n", "only whitespace"),
        ("tøken-secret", "no spaces or control characters"),
        ("two words", "no spaces or control characters"),
        ("nul\x00byte", "no spaces or control characters"),
    ]:
        with pytest.raises(ConfigError, match=why) as refused:
            load_settings({"RS_ADMIN_TOKEN": token})
        assert str(refused.value).startswith("invalid setting RS_ADMIN_TOKEN='***': ")


def test_production_takes_only_an_admin_token_of_16_characters_or_more():
    import pytest

    from entrypoints.config import ConfigError

    for token in ("a", "fifteen-chars-x"):
        with pytest.raises(ConfigError, match="at least 16 characters") as refused:
            load_settings({"ENV": "prod", "RS_ADMIN_TOKEN": token})
        assert "RS_ADMIN_TOKEN='***' (with ENV='prod')" in str(refused.value)
        assert "fifteen" not in str(refused.value)
    assert load_settings({"ENV": "prod", "RS_ADMIN_TOKEN": "sixteen-chars-xy"})["env"] == "prod"
    assert load_settings({"ENV": "dev", "RS_ADMIN_TOKEN": "a"})["admin_token"] == "a"


def test_xapi_credentials_are_read_as_the_admin_token_is():
    """A key and secret read from files end in a newline no Authorization header carries:
    every LRS statement was refused. A ':' in the key ends it in HTTP Basic."""
    import pytest

    from entrypoints.config import ConfigError

    read = load_settings({"RS_XAPI_KEY": "lrs-key\n", "RS_XAPI_SECRET": " s3cret-value\n"})
    assert (read["xapi_key"], read["xapi_secret"]) == ("lrs-key", "s3cret-value")
    with pytest.raises(ConfigError, match="RS_XAPI_KEY='\\*\\*\\*': no ':'"):
        load_settings({"RS_XAPI_KEY": "lrs:key", "RS_XAPI_SECRET": "s3cret-value"})
    with pytest.raises(ConfigError, match="RS_XAPI_SECRET='\\*\\*\\*'.*at least 16") as refused:
        load_settings(
            {
                "ENV": "prod",
                "RS_ADMIN_TOKEN": "a" * 20,
                "RS_XAPI_KEY": "k",
                "RS_XAPI_SECRET": "short",
            }
        )
    assert "short" not in str(refused.value)


def test_a_connect_timeout_of_no_seconds_in_the_url_is_refused_not_waited_on():
    """psycopg reads connect_timeout=0 (or a negative, or under a second) as no timeout: a
    request to a server that never answered waited 130 s instead of answering 503."""
    import pytest

    from entrypoints.config import ConfigError

    server = "postgresql+psycopg://app:hunter2@db/lms"
    for seconds in ("0", "-1", "0.5", "abc", "inf"):
        with pytest.raises(ConfigError) as refused:
            load_settings({"RS_DATABASE_URL": f"{server}?connect_timeout={seconds}"})
        said = str(refused.value)
        assert said.endswith(
            "connect_timeout must be a number of seconds, at least 1 (0 waits minutes for a "
            "server that does not answer); without it the service's own applies"
        ), said
        assert "hunter2" not in said
    for seconds in ("1", "1.5", "30"):
        assert load_settings({"RS_DATABASE_URL": f"{server}?connect_timeout={seconds}"})


def test_lists_are_kept_for_ever_unless_a_retention_of_a_month_or_more_is_set():
    import pytest

    from entrypoints.config import ConfigError

    assert load_settings({})["list_retention_days"] == 0
    assert load_settings({"RS_LIST_RETENTION_DAYS": "400"})["list_retention_days"] == 400
    for value, said in (
        ("7", "at least 30 days, so that a late click is still credited"),
        ("-1", "RS_LIST_RETENTION_DAYS"),
        ("a year", "RS_LIST_RETENTION_DAYS"),
    ):
        with pytest.raises(ConfigError, match=said):
            load_settings({"RS_LIST_RETENTION_DAYS": value})
    with pytest.raises(ConfigError, match="memory://.*stored daily figures keep their stats"):
        load_settings({"RS_LIST_RETENTION_DAYS": "90", "RS_DATABASE_URL": "memory://"})
