"""What a project declares: its entry points and its top-level packages.

Read from ``setup.cfg`` (pbr's ``[entry_points]`` or setuptools'
``[options.entry_points]``) and ``pyproject.toml`` (``[project.scripts]``,
``[project.gui-scripts]``, ``[project.entry-points.*]``).  Nothing is
imported or built.
"""

from __future__ import annotations

import configparser
import os
import re
import tomllib
from dataclasses import dataclass, field

# Groups whose entries start a process; every other group is a plugin
# namespace (stevedore, oslo.config.opts, pytest11...).
SERVICE_GROUPS = ("console_scripts", "wsgi_scripts", "gui_scripts")

_ENTRY_RE = re.compile(r"^\s*([^=\s][^=]*?)\s*=\s*([\w.]+)\s*(?::\s*([\w.]+))?\s*(\[.*\])?\s*$")
_MODULE_RE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


class ProjectError(ValueError):
    pass


@dataclass(frozen=True)
class EntryPoint:
    name: str
    group: str
    module: str
    attr: str | None = None
    named: bool = True  # False for a bare --module: its service name is unknown

    @property
    def target(self) -> str:
        return f"{self.module}:{self.attr}" if self.attr else self.module


@dataclass
class Project:
    root: str
    source_dirs: list[str] = field(default_factory=list)  # what goes on sys.path
    packages: dict[str, str] = field(default_factory=dict)  # top-level name -> directory
    entry_points: list[EntryPoint] = field(default_factory=list)
    declared_in: list[str] = field(default_factory=list)

    @property
    def services(self) -> list[EntryPoint]:
        return [ep for ep in self.entry_points if ep.group in SERVICE_GROUPS]

    def plugin_groups(self) -> dict[str, list[EntryPoint]]:
        groups: dict[str, list[EntryPoint]] = {}
        for ep in self.entry_points:
            if ep.group not in SERVICE_GROUPS:
                groups.setdefault(ep.group, []).append(ep)
        return groups


def parse_entry(text: str, group: str, where: str) -> EntryPoint:
    """``name = module[:attr] [extras]``."""
    m = _ENTRY_RE.match(text)
    if not m:
        raise ProjectError(f"{where}: invalid entry point {text.strip()!r} in {group}: "
                           f"expected 'name = package.module:function'")
    return EntryPoint(m.group(1), group, m.group(2), m.group(3))


def parse_module_arg(text: str) -> EntryPoint:
    """A module named on the command line: ``MODULE``, ``MODULE:FUNC`` or ``NAME=MODULE``."""
    name, sep, target = text.partition("=")
    if not sep:
        name, target = "", text
    module, _, attr = target.strip().partition(":")
    if not _MODULE_RE.match(module) or (attr and not _MODULE_RE.match(attr)):
        raise ProjectError(f"invalid module {text!r}: expected a dotted module name, "
                           f"MODULE:FUNCTION or NAME=MODULE[:FUNCTION]")
    return EntryPoint(name.strip() or module, "command line", module, attr or None,
                      named=bool(name.strip()))


def _setup_cfg(path: str) -> list[EntryPoint]:
    cfg = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    cfg.optionxform = str  # group names are case-sensitive
    try:
        cfg.read(path, encoding="utf-8")
    except configparser.Error as exc:
        raise ProjectError(f"{path}: cannot parse: {exc}") from None
    found = []
    for section in ("entry_points", "options.entry_points"):
        if not cfg.has_section(section):
            continue
        for group, value in cfg.items(section):
            for line in value.splitlines():
                if line.strip() and not line.strip().startswith("#"):
                    found.append(parse_entry(line, group, os.path.basename(path)))
    return found


def _pyproject(path: str) -> list[EntryPoint]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ProjectError(f"{path}: cannot parse: {exc}") from None
    project = data.get("project", {})
    tables = [("console_scripts", project.get("scripts", {})),
              ("gui_scripts", project.get("gui-scripts", {}))]
    tables += list(project.get("entry-points", {}).items())
    found = []
    for group, table in tables:
        for name, target in table.items():
            found.append(parse_entry(f"{name} = {target}", group, os.path.basename(path)))
    return found


def _packages(root: str) -> tuple[list[str], dict[str, str]]:
    """Top-level regular packages directly in ``root`` or in ``root/src``."""
    dirs, packages = [], {}
    for base in (root, os.path.join(root, "src")):
        if not os.path.isdir(base):
            continue
        found = sorted(name for name in os.listdir(base)
                       if name.isidentifier()
                       and os.path.isfile(os.path.join(base, name, "__init__.py")))
        if found:
            dirs.append(base)
            for name in found:
                packages.setdefault(name, os.path.join(base, name))
    return dirs, packages


def load(root: str) -> Project:
    if not os.path.isdir(root):
        raise ProjectError(f"PATH {root!r} is not a directory")
    project = Project(os.path.abspath(root))
    project.source_dirs, project.packages = _packages(project.root)
    for name, reader in (("setup.cfg", _setup_cfg), ("pyproject.toml", _pyproject)):
        path = os.path.join(project.root, name)
        if os.path.isfile(path):
            entries = reader(path)
            if entries:
                project.declared_in.append(name)
            for ep in entries:
                if ep not in project.entry_points:
                    project.entry_points.append(ep)
    return project
