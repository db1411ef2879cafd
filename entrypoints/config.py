"""Settings from the environment and an optional .env file (the environment wins), validated as
one typed object: a bad value stops the service before it binds a port, with one line naming the
variable, the value and what is allowed."""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, quote, unquote_plus, urlsplit

import yaml
from dotenv import dotenv_values
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from application.hybrid import InvalidWeights, checked_blend, checked_weight
from application.tuning import known_settings
from entrypoints.two_tower_yaml import checked

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_SQLITE_URL = "sqlite:///var/recsys.db"
DEFAULT_TWO_TOWER_CONFIG = "configs/two_tower.yaml"
#: what RS_HOST and `serve --host` take: a host name or an IP address (IPv6 in brackets or not)
HOST = re.compile(r"^[A-Za-z0-9.:\-\[\]]+$")
DAY = 86_400
#: durations beyond it are no setting anyone means, and overflow a datetime (far beyond)
YEAR = 365 * DAY
#: libpq's options setting statement_timeout (`-c name=value`, `--name=value`, any case)
_STATEMENT_TIMEOUT = re.compile(r"(?:^|\s)(?:-c\s*|--)statement[_-]timeout=", re.IGNORECASE)
SECRET_KEYS = ("RS_DB_PASSWORD", "RS_ADMIN_TOKEN", "RS_API_KEY", "RS_XAPI_SECRET")
#: the shortest admin token or API key ENV=prod takes: too long to guess, even unthrottled
PROD_SECRET_LENGTH = 16
#: what an HTTP header can carry: WSGI reads headers as Latin-1, so a
#: non-ASCII token would never match one
_HEADER_TEXT = re.compile(r"[\x21-\x7e]+")
STRATEGIES = Literal["hybrid", "two_tower", "item_cf", "sequence", "content", "popularity", "auto"]
DATABASE_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg", "memory")
#: TowerConfig's own sizes, used when neither the YAML nor the environment sets one
TOWER_DEFAULT_SIZES = {"embedding_dim": 64, "user_feature_dim": 16, "item_feature_dim": 32}
SIZE_VARIABLES = {
    "embedding_dim": "EMBEDDING_DIM",
    "user_feature_dim": "USER_FEATURE_DIM",
    "item_feature_dim": "ITEM_FEATURE_DIM",
}
#: two-tower settings a variable sets over the YAML
OVER_YAML = {**SIZE_VARIABLES, "objective": "RS_TWO_TOWER_OBJECTIVE"}


#: Settings field -> the hybrid component it weighs
WEIGHTS = {
    "weight_two_tower": "two_tower",
    "weight_popularity": "popularity",
    "weight_content": "content",
    "weight_item_cf": "item_cf",
    "weight_sequence": "sequence",
}


#: what a URL whose password broke its parsing is told
ENCODE = "(percent-encode a password's '/', '?' and '#': %2F, %3F, %23)"


def _at_least_a_second(seconds: str) -> bool:
    """Whether psycopg reads `seconds` as a connect_timeout: it takes whole seconds of any
    number, and below one second none at all."""
    try:
        return int(float(seconds)) > 0
    except (ValueError, OverflowError):  # "inf" too
        return False


class ConfigError(ValueError):
    """A setting has a value the service cannot use."""


class Settings(BaseModel):
    """Every variable the service reads: its type, range or allowed values, and default."""

    # "inf" and "nan" parse as floats: as a duration or a weight they fail later, at request time
    model_config = ConfigDict(
        extra="ignore", frozen=True, populate_by_name=False, allow_inf_nan=False
    )

    env: Literal["dev", "test", "prod"] = Field("dev", alias="ENV")
    database_url: str = Field("", alias="RS_DATABASE_URL")
    db_host: str = Field("", alias="RS_DB_HOST")
    db_port: int = Field(5432, alias="RS_DB_PORT", ge=1, le=65535)
    db_name: str = Field("lms", alias="RS_DB_NAME", min_length=1)
    db_user: str = Field("postgres", alias="RS_DB_USER", min_length=1)
    db_password: str = Field("", alias="RS_DB_PASSWORD")
    models_dir: str = Field("models", alias="RS_MODELS_DIR", min_length=1)
    models_store: Literal["folder", "database"] = Field("folder", alias="RS_MODELS_STORE")
    two_tower_config: str = Field(DEFAULT_TWO_TOWER_CONFIG, alias="RS_TWO_TOWER_CONFIG")
    embedding_dim: int | None = Field(None, alias="EMBEDDING_DIM", ge=1, le=4096)
    user_feature_dim: int | None = Field(None, alias="USER_FEATURE_DIM", ge=1, le=4096)
    item_feature_dim: int | None = Field(None, alias="ITEM_FEATURE_DIM", ge=1, le=4096)
    default_recommender: STRATEGIES = Field("hybrid", alias="DEFAULT_RECOMMENDER")
    # Defaults chosen on a validation split of CNPC's training part (docs/results.md).
    weight_two_tower: float = Field(1.0, alias="HYBRID_WEIGHTS_TWO_TOWER")
    weight_popularity: float = Field(0.0, alias="HYBRID_WEIGHTS_POPULARITY")
    weight_content: float = Field(0.1, alias="HYBRID_WEIGHTS_CONTENT")
    weight_item_cf: float = Field(0.25, alias="HYBRID_WEIGHTS_ITEM_CF")
    weight_sequence: float = Field(0.0, alias="HYBRID_WEIGHTS_SEQUENCE")
    # 0: plain counts (no decay)
    popularity_half_life_days: float = Field(30.0, alias="RS_POPULARITY_HALF_LIFE_DAYS", ge=0)
    refresh_seconds: float = Field(30.0, alias="RS_REFRESH_SECONDS", ge=0, le=DAY)
    fit_interval_seconds: float = Field(60.0, alias="RS_FIT_INTERVAL", ge=1, le=YEAR)
    train_interval_seconds: float = Field(3600.0, alias="RS_TRAIN_INTERVAL", ge=1, le=YEAR)
    # Pins: settings fit-time tuning then uses as given instead of searching them.
    item_cf_regularization: float | None = Field(None, alias="RS_ITEM_CF_REGULARIZATION", gt=0)
    item_cf_recency_decay: float | None = Field(None, alias="RS_ITEM_CF_RECENCY_DECAY", gt=0, le=1)
    item_cf_proximity_weight: float | None = Field(
        None, alias="RS_ITEM_CF_PROXIMITY_WEIGHT", ge=0, le=1000, allow_inf_nan=False
    )
    sequence_recency_decay: float | None = Field(
        None, alias="RS_SEQUENCE_RECENCY_DECAY", gt=0, le=1
    )
    two_tower_objective: Literal["next", "all"] | None = Field(None, alias="RS_TWO_TOWER_OBJECTIVE")
    # PostgreSQL takes statement_timeout in whole milliseconds (0 would switch it off) and at most
    # 2^31-1 of them (above, every connection is refused): both would surface only when connecting.
    db_timeout_seconds: float = Field(3.0, alias="RS_DB_TIMEOUT_SECONDS", ge=0.001, le=3600)
    # 0: lists are kept for ever; otherwise at least a month, so that late clicks are credited
    list_retention_days: int = Field(0, alias="RS_LIST_RETENTION_DAYS", ge=0, le=36500)
    xapi_key: str = Field("", alias="RS_XAPI_KEY")
    xapi_secret: str = Field("", alias="RS_XAPI_SECRET")
    xapi_mapping: str = Field("configs/xapi.yaml", alias="RS_XAPI_MAPPING")
    tuning_budget_seconds: float = Field(120.0, alias="RS_TUNING_BUDGET_SECONDS", ge=0)
    max_clock_skew_seconds: float = Field(300.0, alias="RS_MAX_CLOCK_SKEW", ge=0, le=YEAR)
    admin_token: str = Field("", alias="RS_ADMIN_TOKEN")
    api_key: str = Field("", alias="RS_API_KEY")
    bandit_policy: Literal["epsilon_greedy", "ucb1", "thompson"] = Field(
        "epsilon_greedy", alias="RS_BANDIT_POLICY"
    )
    bandit_epsilon: float = Field(0.1, alias="RS_BANDIT_EPSILON", ge=0, le=1)
    diversity: float = Field(0.3, alias="RS_DIVERSITY_LAMBDA", ge=0, le=1)
    # a web worker that has just read `current` must still find that version after a publish
    keep_versions: int = Field(3, alias="RS_KEEP_VERSIONS", ge=2)
    hnsw_above: int = Field(50_000, alias="RS_FAISS_HNSW_ABOVE", ge=1)
    host: str = Field("127.0.0.1", alias="RS_HOST", pattern=HOST.pattern)
    port: int = Field(8002, alias="RS_PORT", ge=1, le=65535)
    max_body_bytes: int = Field(2 * 1024 * 1024, alias="RS_MAX_BODY_BYTES", ge=1024)
    # reverse proxies in front that append to X-Forwarded-For: the client is the Nth entry from
    # the right (0: the peer's address); more than there are lets a client choose its address
    trusted_proxies: int = Field(0, alias="RS_TRUSTED_PROXIES", ge=0, le=10)
    log_format: Literal["auto", "json", "console"] = Field("auto", alias="RS_LOG_FORMAT")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", alias="RS_LOG_LEVEL")

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, url: str) -> str:
        if not url or url == "memory://":
            return url
        parts = urlsplit(url)
        if parts.scheme not in DATABASE_SCHEMES[:-1]:
            raise ValueError(
                f"expected a URL starting with one of {', '.join(s + '://' for s in DATABASE_SCHEMES)}"
            )
        try:
            parts.port  # noqa: B018 - parsing it is the check
        except ValueError:
            raise ValueError(f"the port must be a number from 0 to 65535 {ENCODE}") from None
        query = parse_qs(parts.query)
        # libpq's ?port=5432 (5432,5433 for several hosts): SQLAlchemy failed on any other
        # with a traceback when the engine was built
        ports = [p for v in query.get("port", []) for p in v.split(",")]
        if parts.scheme.startswith("postgresql") and not all(
            p.isdigit() and int(p) <= 65535 for p in ports
        ):
            raise ValueError("the port must be a number from 0 to 65535")
        if parts.scheme.startswith("postgresql") and any(
            _STATEMENT_TIMEOUT.search(options) for options in query.get("options", [])
        ):
            # the engine ends a statement a second after RS_DB_TIMEOUT_SECONDS on its own (a
            # frozen server enforces nothing), and migrations need longer: it could not hold
            raise ValueError(
                "its options set statement_timeout, which the service sets from "
                "RS_DB_TIMEOUT_SECONDS (and enforces itself): set RS_DB_TIMEOUT_SECONDS instead"
            )
        if parts.scheme.startswith("postgresql") and not all(
            _at_least_a_second(seconds) for seconds in query.get("connect_timeout", [])
        ):
            # 0 (or a negative) is no timeout: a request would wait minutes for a server that
            # never answers, instead of a 503
            raise ValueError(
                "connect_timeout must be a number of seconds, at least 1 (0 waits minutes for a "
                "server that does not answer); without it the service's own applies"
            )
        if parts.scheme.startswith("postgresql") and "@" in parts.path:
            # "u:12/pw@db/lms" parses as host "u", port 12: the rest of the password is a path
            raise ValueError(
                f"the host reads as {parts.hostname!r}, the password cut short {ENCODE}"
            )
        if (
            parts.scheme.startswith("postgresql")
            and parts.path in ("", "/")
            and not {"dbname", "service"} & set(query)
            and not (os.environ.get("PGDATABASE") or os.environ.get("PGSERVICE"))
        ):
            # libpq would connect to the database named after the user: `postgres`, the
            # maintenance database, which then "has no schema" and invites `recsys init-db`
            raise ValueError(
                "no database name: expected postgresql+psycopg://USER@HOST:5432/NAME "
                "(without one, PostgreSQL connects to the database named after the user)"
            )
        if parts.scheme.startswith("sqlite") and parts.path in ("", "/", "/:memory:"):
            raise ValueError(
                "expected a file, e.g. sqlite:///var/recsys.db (an in-memory database would be "
                "a different, empty one in every process)"
            )
        return url

    @field_validator("db_host")
    @classmethod
    def _a_host(cls, host: str) -> str:
        # it becomes the host of a URL: "127.0.0.1:5432" would make the port "5432:5432", and
        # every database command would fail on it with a traceback
        if not host or _ipv6(host):
            return host
        if ":" in host:
            raise ValueError(
                "expected a host name or IP address without a port (the port is RS_DB_PORT)"
            )
        if not re.fullmatch(r"[A-Za-z0-9._-]+", host):
            raise ValueError(
                "expected a host name or IP address (for a socket directory or anything "
                "else libpq takes, set RS_DATABASE_URL)"
            )
        return host

    @field_validator("models_dir")
    @classmethod
    def _a_folder(cls, path: str) -> str:
        # web workers would fail every request on it, the trainer every publish
        if Path(path).exists() and not Path(path).is_dir():
            raise ValueError("not a directory")
        return path

    @field_validator(*WEIGHTS)
    @classmethod
    def _a_weight(cls, weight: float, info: ValidationInfo) -> float:
        # the rules and words of a request's weights (?weights=...)
        try:
            return checked_weight(WEIGHTS[str(info.field_name)], weight)
        except InvalidWeights as error:
            raise ValueError(str(error)) from None

    @model_validator(mode="after")
    def _weights_can_blend(self) -> Settings:
        # setting any weight pins all five, the others at their defaults: all zero, the default
        # hybrid could never answer and every request would fall back to popularity
        weights = {WEIGHTS[field]: getattr(self, field) for field in WEIGHTS}
        try:
            checked_blend(weights)
        except InvalidWeights as error:
            given = [
                f"{type(self).model_fields[field].alias}={getattr(self, field):g}"
                + ("" if field in self.model_fields_set else " (default)")
                for field in WEIGHTS
            ]
            raise ValueError(f"{', '.join(given)}: {error}") from None
        return self


def loopback(address: str | None) -> bool:
    """Whether a client address or a host to listen on is this machine's loopback."""
    try:
        return address is not None and ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return address == "localhost"


def read_environment(env_file: str | os.PathLike[str] | None = ".env") -> dict[str, str]:
    return read_sourced_environment(env_file)[0]


def read_sourced_environment(
    env_file: str | os.PathLike[str] | None = ".env",
) -> tuple[dict[str, str], dict[str, str]]:
    """(variables, where each came from: ".env" or "environment")."""
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    if env_file and Path(env_file).is_file():
        try:
            read = dotenv_values(env_file)
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"{env_file} cannot be read: {_unreadable(error)}") from None
        for key, value in read.items():
            if value is not None:
                values[key], sources[key] = value, str(env_file)
    for key, value in os.environ.items():
        values[key], sources[key] = value, "environment"
    return values, sources


#: variables of the service read apart from the settings: no misspelt setting
OTHER_VARIABLES = frozenset(
    {"RS_DATA_DIR", "RS_TEST_DATABASE_URL", "RS_BENCH_SERVER_URL", "RS_FUZZ_CASES"}
)


def unknown_variables(env: Mapping[str, str]) -> list[str]:
    """A line for each variable named like the service's that it does not read, with the one
    most likely meant: a misspelt one is otherwise ignored without a word (RS_MODEL_DIR left a
    host publishing to ./models, where no other host looks)."""
    known = {str(field.alias) for field in Settings.model_fields.values()} | OTHER_VARIABLES
    said = []
    for name in sorted(env):
        if name.startswith(("RS_", "HYBRID_WEIGHT")) and name not in known:
            meant = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
            said.append(
                f"{name} is no setting of this service and is ignored"
                + (f" (did you mean {meant[0]}?)" if meant else "")
            )
    return said


def _ipv6(host: str) -> bool:
    try:
        ipaddress.IPv6Address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        return False
    return True


def database_url(env: Mapping[str, str]) -> str:
    if env.get("RS_DATABASE_URL"):
        return env["RS_DATABASE_URL"]
    if env.get("RS_DB_HOST"):
        user = quote(env.get("RS_DB_USER") or "postgres", safe="")
        password = env.get("RS_DB_PASSWORD", "")
        auth = f"{user}:{quote(password, safe='')}" if password else user
        host = env["RS_DB_HOST"]
        if _ipv6(host):  # a URL holds an IPv6 address in brackets
            host = f"[{host.removeprefix('[').removesuffix(']')}]"
        return (
            f"postgresql+psycopg://{auth}@{host}:{env.get('RS_DB_PORT') or '5432'}"
            f"/{quote(env.get('RS_DB_NAME') or 'lms', safe='')}"
        )
    return DEFAULT_SQLITE_URL


def _one_line(error: ValidationError, env: Mapping[str, str]) -> str:
    problems = []
    for item in error.errors():
        variable = str(item["loc"][0]) if item["loc"] else ""
        message = str(item["msg"]).removeprefix("Value error, ")
        if variable:
            problems.append(f"{variable}={_shown(variable, env.get(variable, ''))!r}: {message}")
        else:
            problems.append(message)
    return "invalid setting " + "; ".join(problems)


def _shown(variable: str, value: str) -> str:
    """A value as an error may echo it: secrets masked, also a URL's password."""
    if variable in SECRET_KEYS:
        return "***" if value else value
    return masked_url(value) if variable == "RS_DATABASE_URL" else value


def masked_url(url: str) -> str:
    # up to the last "@": a password may hold a raw "@", or a "/" that breaks the URL (the
    # error then echoes it); the user may be empty; libpq also takes one as a query parameter
    # (?password=..., and the client key's ?sslpassword=...)
    url = re.sub(r"(://[^:/@]*:).*@", r"\1***@", url)
    return re.sub(r"([?&])([^=&]*)=([^&]*)", _masked_parameter, url)


def _masked_parameter(found: re.Match[str]) -> str:
    """A query parameter, its value masked when it is a password (named as the driver reads
    names: decoded, so pass%77ord is one too)."""
    mark, name, value = found.groups()
    secret = unquote_plus(name).lower() in ("password", "sslpassword")
    return f"{mark}{name}={'***' if secret else value}"


def validate(env: Mapping[str, str]) -> Settings:
    """The typed settings, or ConfigError with one line naming variable, value and allowed values."""
    given = {k: v for k, v in env.items() if v != "" or k in ("RS_ADMIN_TOKEN", "RS_API_KEY")}
    try:
        return Settings.model_validate(given)
    except ValidationError as error:
        raise ConfigError(_one_line(error, env)) from None


def load_settings(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The effective configuration as a plain dict (what the container is configured from)."""
    env = read_environment() if env is None else env
    s = validate(env)
    two_tower = two_tower_settings(env)
    sizes = {key: int(two_tower.get(key, default)) for key, default in TOWER_DEFAULT_SIZES.items()}
    settings = {
        "env": s.env,
        "database_url": database_url(env),
        "models_dir": s.models_dir,
        "models_store": models_store(s.models_store, database_url(env)),
        **sizes,
        "default_recommender": s.default_recommender,
        "hybrid_weights": {
            "two_tower": s.weight_two_tower,
            "popularity": s.weight_popularity,
            "content": s.weight_content,
            "item_cf": s.weight_item_cf,
            "sequence": s.weight_sequence,
        },
        "popularity_half_life_days": s.popularity_half_life_days,
        "refresh_seconds": s.refresh_seconds,
        "fit_interval_seconds": s.fit_interval_seconds,
        "train_interval_seconds": s.train_interval_seconds,
        "tuning_budget_seconds": s.tuning_budget_seconds,
        "max_clock_skew_seconds": s.max_clock_skew_seconds,
        "admin_token": s.admin_token,
        "api_key": s.api_key,
        "bandit_policy": s.bandit_policy,
        "bandit_epsilon": s.bandit_epsilon,
        "diversity": s.diversity,
        "keep_versions": s.keep_versions,
        "hnsw_above": s.hnsw_above,
        "two_tower": two_tower,
        "tuning_pins": tuning_pins(s, env),
        "host": s.host,
        "port": s.port,
        "max_body_bytes": s.max_body_bytes,
        "trusted_proxies": s.trusted_proxies,
        "log_format": s.log_format,
        "log_level": s.log_level,
        "db_timeout_seconds": s.db_timeout_seconds,
        "list_retention_days": list_retention(s.list_retention_days, database_url(env)),
        **xapi_settings(s),
    }
    return checked_credentials(settings)


def models_store(store: str, url: str) -> str:
    """Where models are published: a folder, or the database (which must then be one)."""
    if store == "database" and url.startswith("memory:"):
        raise ConfigError(
            f"invalid setting RS_MODELS_STORE='database' (with RS_DATABASE_URL={url!r}): "
            "models are kept in a SQL database; set RS_MODELS_STORE=folder"
        )
    return store


#: the shortest retention of lists: a click a month after its list is still credited
MIN_LIST_RETENTION_DAYS = 30


def list_retention(days: int, url: str) -> int:
    """Days a served list is kept (0: for ever): at least a month, and only where stats figures
    are stored (a SQL database; memory:// counts every window from its lists)."""
    if days and days < MIN_LIST_RETENTION_DAYS:
        raise ConfigError(
            f"invalid setting RS_LIST_RETENTION_DAYS={days}: 0 (lists kept for ever) or at "
            f"least {MIN_LIST_RETENTION_DAYS} days, so that a late click is still credited"
        )
    if days and url.startswith("memory:"):
        raise ConfigError(
            f"invalid setting RS_LIST_RETENTION_DAYS={days} (with RS_DATABASE_URL={url!r}): "
            "lists are removed from a SQL database, whose stored daily figures keep their stats; "
            "leave it unset"
        )
    return days


def checked_credentials(settings: dict[str, Any]) -> dict[str, Any]:
    """`settings` with the admin token, API keys (RS_API_KEY, comma-separated) and xAPI key and
    secret as requests are compared with them, or a ConfigError: surrounding whitespace goes (a secret read from a
    file ends in a newline, which no header carries, so the token never matched), only
    whitespace or characters no header carries are refused, and ENV=prod needs a token, and
    keys, of PROD_SECRET_LENGTH or more."""
    prod = settings["env"] == "prod"
    token = _secret("RS_ADMIN_TOKEN", settings["admin_token"], prod)
    if prod and not token:
        raise ConfigError(
            "invalid setting RS_ADMIN_TOKEN='' (with ENV='prod'): production needs a token, "
            "the admin endpoints would be open otherwise"
        )
    given = str(settings.get("api_key", ""))
    keys = [_secret("RS_API_KEY", key, prod) for key in given.split(",") if key.strip()]
    if given and not keys:  # "" is no key; " " or "," is a mistake, not an open API
        raise ConfigError(
            "invalid setting RS_API_KEY='***': no key in it; leave it empty, or set keys "
            "separated by commas"
        )
    # xAPI's HTTP Basic credentials, read as the admin token is (a key is no secret by length)
    xapi_key = _secret("RS_XAPI_KEY", str(settings.get("xapi_key", "")), prod=False)
    if ":" in xapi_key:
        raise ConfigError(
            "invalid setting RS_XAPI_KEY='***': no ':' in it, HTTP Basic ends the key there"
        )
    xapi_secret = _secret("RS_XAPI_SECRET", str(settings.get("xapi_secret", "")), prod)
    return {
        **settings,
        "admin_token": token,
        "api_key": ",".join(keys),
        "xapi_key": xapi_key,
        "xapi_secret": xapi_secret,
    }


def _secret(variable: str, value: str, prod: bool) -> str:
    stripped = value.strip()
    shown = f"invalid setting {variable}='***'"  # never echoed, not even in part
    if value and not stripped:
        raise ConfigError(f"{shown}: only whitespace; leave it empty, or set a token")
    if stripped and not _HEADER_TEXT.fullmatch(stripped):
        raise ConfigError(
            f"{shown}: only ASCII letters, digits and punctuation (no spaces or control "
            "characters), which is all an HTTP header carries"
        )
    if prod and stripped and len(stripped) < PROD_SECRET_LENGTH:
        raise ConfigError(
            f"{shown} (with ENV='prod'): at least {PROD_SECRET_LENGTH} characters in production, "
            "e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return stripped


def xapi_settings(s: Settings) -> dict[str, Any]:
    """xAPI: the HTTP Basic key/secret LRS clients may send, and the verb/activity mapping file."""
    return {
        "xapi_key": s.xapi_key,
        "xapi_secret": s.xapi_secret,
        "xapi_mapping": s.xapi_mapping,
    }


def _unreadable(error: OSError | UnicodeDecodeError) -> str:
    if isinstance(error, UnicodeDecodeError):
        return (
            f"it is not UTF-8 text (byte 0x{error.object[error.start]:02x} at offset {error.start})"
        )
    return str(error.strerror or error)


def text_of(path: Path) -> str:
    """A settings file's text, or a ConfigError saying why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} cannot be read: {_unreadable(error)}") from None


def project_file(path: str) -> Path:
    """`path` as given, or relative to the project (so `configs/*.yaml` work from anywhere)."""
    file = Path(path)
    if not file.is_file() and not file.is_absolute() and (PROJECT / file).is_file():
        return PROJECT / file
    return file


def two_tower_settings(env: Mapping[str, str], path: Path | None = None) -> dict[str, Any]:
    """`path` (default RS_TWO_TOWER_CONFIG, which must name a file, or configs/two_tower.yaml),
    then the size variables and RS_TWO_TOWER_OBJECTIVE of the environment."""
    if path is None:
        configured = env.get("RS_TWO_TOWER_CONFIG")
        path = project_file(configured or DEFAULT_TWO_TOWER_CONFIG)
        if configured and not path.is_file():
            raise ConfigError(f"invalid setting RS_TWO_TOWER_CONFIG={configured!r}: no such file")
    settings: dict[str, Any] = {}
    if path.is_file():
        try:
            loaded = yaml.safe_load(text_of(path)) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"{path} is not valid YAML: {error}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path} must hold a mapping of settings")
        try:
            settings.update(checked(loaded))
        except ValueError as error:
            raise ConfigError(f"{path}: {error}") from None
    overrides = validate(env)
    for key in SIZE_VARIABLES:
        if getattr(overrides, key) is not None:
            settings[key] = getattr(overrides, key)
    # A pin: two_tower is trained with it whatever the YAML says, so show-config, which showed
    # the YAML's objective beside it, and train-two-tower say and use the same.
    if overrides.two_tower_objective is not None:
        settings["objective"] = overrides.two_tower_objective
    return settings


def tuning_pins(s: Settings, env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Settings the operator fixed, which fit-time tuning then uses as given (never searched):
    RS_ITEM_CF_REGULARIZATION, RS_ITEM_CF_RECENCY_DECAY, RS_ITEM_CF_PROXIMITY_WEIGHT,
    RS_SEQUENCE_RECENCY_DECAY, RS_TWO_TOWER_OBJECTIVE, the objective and members of an explicit
    RS_TWO_TOWER_CONFIG, and the hybrid's weights once any HYBRID_WEIGHTS_* is set."""
    pins: dict[str, dict[str, Any]] = {"item_cf": {}, "sequence": {}, "two_tower": {}}
    if s.item_cf_regularization is not None:
        pins["item_cf"]["regularization"] = s.item_cf_regularization
    if s.item_cf_recency_decay is not None:
        pins["item_cf"]["recency_decay"] = s.item_cf_recency_decay
    if s.item_cf_proximity_weight is not None:
        pins["item_cf"]["proximity_weight"] = s.item_cf_proximity_weight
    if s.sequence_recency_decay is not None:
        pins["sequence"]["recency_decay"] = s.sequence_recency_decay
    if env.get("RS_TWO_TOWER_CONFIG"):
        explicit = two_tower_settings(env)
        pins["two_tower"] |= {k: explicit[k] for k in ("objective", "members") if k in explicit}
    if s.two_tower_objective is not None:
        pins["two_tower"]["objective"] = s.two_tower_objective
    if any(k.startswith("HYBRID_WEIGHTS_") and v for k, v in env.items()):
        pins["hybrid"] = {
            "weights": {
                "two_tower": s.weight_two_tower,
                "popularity": s.weight_popularity,
                "content": s.weight_content,
                "item_cf": s.weight_item_cf,
                "sequence": s.weight_sequence,
            }
        }
    return {name: values for name, values in pins.items() if values}


def masked(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Settings safe to print: tokens and passwords (also inside URLs) are masked."""
    shown = dict(settings)
    for secret in ("admin_token", "api_key", "xapi_secret"):
        if shown.get(secret):
            shown[secret] = "***"
    shown["database_url"] = masked_url(str(shown["database_url"]))
    return shown


def _variables() -> dict[str, str]:
    """load_settings() key -> the variable that sets it."""
    aliases = {name: str(field.alias) for name, field in Settings.model_fields.items()}
    # RS_DB_HOST & co. make up database_url; RS_DB_TIMEOUT_SECONDS is a setting of its own
    parts = ("db_host", "db_port", "db_name", "db_user", "db_password")
    found = {n: aliases[n] for n in aliases if not n.startswith("weight_") and n not in parts}
    found.update(
        {f"hybrid_weights.{n[7:]}": a for n, a in aliases.items() if n.startswith("weight_")}
    )
    return found


def sources(
    settings: Mapping[str, Any], env: Mapping[str, str], origin: Mapping[str, str]
) -> dict[str, str]:
    """Where each flattened setting came from: a variable (and its file), the YAML, or a default."""
    variables = _variables()
    yaml_path = env.get("RS_TWO_TOWER_CONFIG") or DEFAULT_TWO_TOWER_CONFIG
    pins = settings.get("tuning_pins", {})
    pinned = pins.get("two_tower", {})
    found: dict[str, str] = {}
    for key in flatten(settings):
        leaf = key.removeprefix("two_tower.")
        variable = (
            variables.get(key)
            or variables.get(_pinned_setting(key))
            or (OVER_YAML.get(leaf) if key != leaf or leaf in SIZE_VARIABLES else None)
        )
        if key == "database_url":
            variable = (
                "RS_DATABASE_URL"
                if env.get("RS_DATABASE_URL")
                else ("RS_DB_HOST" if env.get("RS_DB_HOST") else None)
            )
        if variable and env.get(variable, "") != "":
            found[key] = f"{variable} ({origin.get(variable, 'environment')})"
        elif key.startswith("tuning_pins.two_tower."):  # pinned by an explicit YAML
            found[key] = f"RS_TWO_TOWER_CONFIG ({yaml_path})"
        elif (
            (key.startswith("two_tower.") or leaf in SIZE_VARIABLES)
            and leaf in settings.get("two_tower", {})
            and project_file(yaml_path).is_file()
        ):
            found[key] = yaml_path
            if leaf in known_settings("two_tower") and leaf not in pinned:
                found[key] += " (until the trainer's settings search chooses another)"
        else:
            found[key] = "default"
            if key.startswith("hybrid_weights.") and "hybrid" not in pins:
                # web workers blend with the weights the trainer chose, as for two_tower above
                found[key] += " (until the trainer's settings search chooses another)"
    return found


def _pinned_setting(key: str) -> str:
    """The setting a tuning pin repeats ("tuning_pins.item_cf.regularization" is
    item_cf_regularization, "tuning_pins.hybrid.weights.content" hybrid_weights.content), so
    that it is said to come from the same variable."""
    if not key.startswith("tuning_pins."):
        return ""
    _, strategy, *rest = key.split(".")
    return f"hybrid_weights.{rest[-1]}" if strategy == "hybrid" else f"{strategy}_{rest[0]}"


def flatten(settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
