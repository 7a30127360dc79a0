"""Type checks shared by the algorithms' settings dataclasses (A2CConfig, PPOConfig)."""

from __future__ import annotations

import math
from dataclasses import fields


def check_setting_types(config, label: str) -> None:
    """Raise ValueError naming the setting when a field of the dataclass `config` does not hold its annotated type:
    float fields a finite int or float (not a bool, not a string such as YAML's reading of 1e-3), int fields an int
    (not a bool or a float), bool fields a bool; `X | None` fields also None. `label` names the algorithm."""
    for f in fields(config):
        value = getattr(config, f.name)
        kind = f.type.removesuffix(" | None")       # the annotations are strings (from __future__ import annotations)
        if value is None and kind != f.type:
            continue
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                hint = " (YAML reads 1e-3 as text: write 1.0e-3)" if isinstance(value, str) else ""
                raise ValueError(f"{label} setting {f.name} must be a number, got {value!r}{hint}")
            if not math.isfinite(value):
                raise ValueError(f"{label} setting {f.name} must be finite, got {value!r}")
        elif kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{label} setting {f.name} must be an integer, got {value!r}")
        elif kind == "bool" and not isinstance(value, bool):
            raise ValueError(f"{label} setting {f.name} must be true or false, got {value!r}")
