"""Reading the xAPI mapping file (YAML) into a validated XapiMapping; mistakes stop the start."""

from __future__ import annotations

import yaml

from application.xapi_mapping import InvalidMapping, XapiMapping
from entrypoints.config import ConfigError, project_file, text_of


def load_mapping(path: str) -> XapiMapping:
    """`path` as given, or relative to the project (so `configs/xapi.yaml` works from anywhere)."""
    file = project_file(path)
    if not file.is_file():
        raise ConfigError(f"invalid setting RS_XAPI_MAPPING={path!r}: no mapping file there")
    try:
        return XapiMapping.from_dict(yaml.safe_load(text_of(file)))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from None
    except InvalidMapping as error:
        raise ConfigError(f"{path}: {error}") from None
