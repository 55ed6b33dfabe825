"""flake8 entry point (``OFR`` codes): the ``lint`` rules on flake8's tree.

Enable with ``--select OFR`` or ``extend-select = OFR``; the allowlist is
``offramp-allow`` (comma-separated globs) in the flake8 config.
"""

from __future__ import annotations

import ast

from offramp.migrate._analyze import analyze_tree
from offramp.migrate.lint import allowed, lint_analysis


class Plugin:
    name = "offramp"
    version = "0.1.0"
    allow: tuple[str, ...] = ()

    def __init__(self, tree: ast.AST, filename: str = "stdin") -> None:
        self.tree = tree
        self.filename = filename

    @classmethod
    def add_options(cls, manager) -> None:
        manager.add_option("--offramp-allow", default="", parse_from_config=True,
                           comma_separated_list=True,
                           help="globs of files allowed to import eventlet (OFR301)")

    @classmethod
    def parse_options(cls, options) -> None:
        value = options.offramp_allow
        globs = value.split(",") if isinstance(value, str) else value
        cls.allow = tuple(g.strip() for g in globs if g.strip())

    def run(self):
        analysis = analyze_tree(self.tree)
        for line, col, code, message in lint_analysis(analysis, allowed(self.filename, self.allow)):
            yield line, col - 1, f"{code} {message}", type(self)
