"""Reading the xAPI mapping file (YAML) into a validated XapiMapping; mistakes stop the start."""

from __future__ import annotations

from pathlib import Path

import yaml

from application.xapi_mapping import InvalidMapping, XapiMapping
from entrypoints.config import ConfigError

PROJECT = Path(__file__).resolve().parents[1]


def load_mapping(path: str) -> XapiMapping:
    """`path` as given, or relative to the project (so `configs/xapi.yaml` works from anywhere)."""
    file = Path(path)
    if not file.is_file() and not file.is_absolute() and (PROJECT / file).is_file():
        file = PROJECT / file
    if not file.is_file():
        raise ConfigError(f"RS_XAPI_MAPPING: no mapping file at {path}")
    try:
        return XapiMapping.from_dict(yaml.safe_load(file.read_text()))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from None
    except InvalidMapping as error:
        raise ConfigError(f"{path}: {error}") from None
