"""``femplastic config``: every configuration key with its default, meaning and unit, as TOML.

The output is a valid config file (``femplastic config > my.toml``; edit, then
``femplastic run --config my.toml``). Meanings and units are read from the parameter
dataclasses' docstrings (:class:`~femplastic.weakplane.params.ModelParams`,
:class:`~femplastic.weakplane.params.RunParams`), so they cannot drift from the code.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import textwrap
from typing import Any

__all__ = ["cmd_config", "config_toml"]


def _descriptions(cls: type) -> dict[str, str]:
    """``{field: description}`` from the numpy-style Parameters section of ``cls``."""
    doc = (cls.__doc__ or "").split("Parameters\n    ----------\n", 1)[-1]
    doc = re.split(r"\n    \w[\w ]*\n    -{3,}\n", doc, maxsplit=1)[0]
    out: dict[str, str] = {}
    names: list[str] = []
    for line in doc.splitlines():
        if line.startswith("    ") and not line.startswith("        ") and " : " in line:
            names = [n.strip() for n in line.split(" : ", 1)[0].split(",")]
            for n in names:
                out[n] = ""
        elif line.startswith("        ") and names:
            for n in names:
                out[n] = (out[n] + " " + line.strip()).strip()
    return out


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    return repr(v)


def config_toml() -> str:
    """The default configuration as commented TOML.

    Returns
    -------
    str
        ``[model]`` and ``[run]`` tables, each key preceded by its meaning and unit.
    """
    from ..weakplane.params import (
        PROTOCOL_DEFAULTS,
        PROTOCOL_KEYS,
        VARIANT_PRESETS,
        ModelParams,
        RunParams,
    )

    lines = ["# femplastic configuration: every key with its default (femplastic config).",
             "# Use: femplastic run --config this.toml; --set section.key=value overrides it.",
             "# Units: Lennard-Jones (stress in the units of G and B, lengths in LJ lengths).",
             "# Keys a protocol does not read must keep their defaults (e.g. gamma_end for",
             "# protocol cyclic; femplastic.validation.PROTOCOL_COMMON_KEYS).",
             "# model.variant brings the variant's calibrated parameters (Castellanos et al.",
             "# 2021, appendix A.8) for every key this file does not set:"]
    for v, pre in VARIANT_PRESETS.items():
        lines.append(f"#   {v}: " + ", ".join(f"{k} = {x}" for k, x in pre.items()))
    for section, cls in (("model", ModelParams), ("run", RunParams)):
        lines += ["", f"[{section}]"]
        desc = _descriptions(cls)
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else None
            text = re.sub(r":\w+:`~?([\w.]+)`", r"\1", desc.get(f.name, "")).replace("``", "")
            for chunk in textwrap.wrap(text, 96):
                lines.append(f"# {chunk}")
            if default is None and f.name in PROTOCOL_DEFAULTS:
                # a protocol's own key: setting it for another protocol is an error, so it is
                # shown commented out with the default its protocol uses
                users = [p for p, keys in PROTOCOL_KEYS.items() if f.name in keys]
                lines.append(f"# {f.name} = {_toml_value(PROTOCOL_DEFAULTS[f.name])}"
                             f"    (protocol {' / '.join(users)})")
            elif default is None:
                lines.append(f"# {f.name} = (unset)")
            else:
                lines.append(f"{f.name} = {_toml_value(default)}")
    return "\n".join(lines) + "\n"


def cmd_config(args: argparse.Namespace) -> int:
    """``femplastic config``: print :func:`config_toml`; returns 0."""
    print(config_toml(), end="")
    return 0
