"""Settings from the environment and an optional .env file (the environment wins)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml
from dotenv import dotenv_values

DEFAULT_SQLITE_URL = "sqlite:///var/recsys.db"
SECRET_KEYS = ("RS_DB_PASSWORD", "RS_ADMIN_TOKEN")


class ConfigError(ValueError):
    """A setting has a value the service cannot use."""


def read_environment(env_file: str | os.PathLike[str] | None = ".env") -> dict[str, str]:
    values: dict[str, str] = {}
    if env_file and Path(env_file).is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ)
    return values


def database_url(env: Mapping[str, str]) -> str:
    if env.get("RS_DATABASE_URL"):
        return env["RS_DATABASE_URL"]
    if env.get("RS_DB_HOST"):
        user = quote(env.get("RS_DB_USER", "postgres"), safe="")
        password = env.get("RS_DB_PASSWORD", "")
        auth = f"{user}:{quote(password, safe='')}" if password else user
        return (
            f"postgresql+psycopg://{auth}@{env['RS_DB_HOST']}:{env.get('RS_DB_PORT', '5432')}"
            f"/{env.get('RS_DB_NAME', 'lms')}"
        )
    return DEFAULT_SQLITE_URL


def _number(env: Mapping[str, str], key: str, default: float, kind: type = float) -> Any:
    raw = env.get(key)
    if raw in (None, ""):
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ConfigError(f"{key} must be a number, got {raw!r}") from None


def load_settings(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The effective configuration as a plain dict (what the container is configured from)."""
    env = read_environment() if env is None else env
    return {
        "env": env.get("ENV", "dev"),
        "database_url": database_url(env),
        "models_dir": env.get("RS_MODELS_DIR", "models"),
        "embedding_dim": _number(env, "EMBEDDING_DIM", 64, int),
        "user_feature_dim": _number(env, "USER_FEATURE_DIM", 16, int),
        "item_feature_dim": _number(env, "ITEM_FEATURE_DIM", 32, int),
        "default_recommender": env.get("DEFAULT_RECOMMENDER", "hybrid"),
        # Defaults chosen on a validation split of CNPC's training part (docs/results.md).
        "hybrid_weights": {
            "two_tower": _number(env, "HYBRID_WEIGHTS_TWO_TOWER", 1.0),
            "popularity": _number(env, "HYBRID_WEIGHTS_POPULARITY", 0.0),
            "content": _number(env, "HYBRID_WEIGHTS_CONTENT", 0.1),
            "item_cf": _number(env, "HYBRID_WEIGHTS_ITEM_CF", 0.25),
        },
        "popularity_half_life_days": _number(env, "RS_POPULARITY_HALF_LIFE_DAYS", 30.0),
        "refresh_seconds": _number(env, "RS_REFRESH_SECONDS", 30.0),
        "admin_token": env.get("RS_ADMIN_TOKEN", ""),
        "bandit_policy": env.get("RS_BANDIT_POLICY", "epsilon_greedy"),
        "bandit_epsilon": _number(env, "RS_BANDIT_EPSILON", 0.1),
        "diversity": _number(env, "RS_DIVERSITY_LAMBDA", 0.3),
        "keep_versions": _number(env, "RS_KEEP_VERSIONS", 3, int),
        "hnsw_above": _number(env, "RS_FAISS_HNSW_ABOVE", 50_000, int),
        "two_tower": two_tower_settings(env),
        "host": env.get("RS_HOST", "127.0.0.1"),
        "port": _number(env, "RS_PORT", 8002, int),
        "max_body_bytes": _number(env, "RS_MAX_BODY_BYTES", 2 * 1024 * 1024, int),
        "db_timeout_seconds": _number(env, "RS_DB_TIMEOUT_SECONDS", 3.0),
        "max_clock_skew_seconds": _number(env, "RS_MAX_CLOCK_SKEW", 300.0),
    }


def two_tower_settings(env: Mapping[str, str], path: Path | None = None) -> dict[str, Any]:
    """`path` (default RS_TWO_TOWER_CONFIG or configs/two_tower.yaml), then the size variables of
    the environment."""
    path = path or Path(env.get("RS_TWO_TOWER_CONFIG", "configs/two_tower.yaml"))
    settings: dict[str, Any] = {}
    if path.is_file():
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"{path} is not valid YAML: {error}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path} must hold a mapping of settings")
        settings.update(loaded)
    for key, variable in (
        ("embedding_dim", "EMBEDDING_DIM"),
        ("user_feature_dim", "USER_FEATURE_DIM"),
        ("item_feature_dim", "ITEM_FEATURE_DIM"),
    ):
        if env.get(variable):
            settings[key] = _number(env, variable, 0, int)
    return settings


def masked(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Settings safe to print: tokens and passwords (also inside URLs) are masked."""
    shown = dict(settings)
    if shown.get("admin_token"):
        shown["admin_token"] = "***"
    shown["database_url"] = re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", str(shown["database_url"]))
    return shown
