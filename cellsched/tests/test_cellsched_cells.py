"""Cells file parsing: clear errors naming the bad value; no password
ever shown."""

from __future__ import annotations

import json

import pytest

from cellsched import cells


def _write(tmp_path, data) -> str:
    p = tmp_path / "cells.json"
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(p)


def test_loads_strings_and_objects_with_timeouts(tmp_path):
    path = _write(tmp_path, {"cells": {
        "a": "sqlite:///a.db",
        "b": {"url": "mysql://root:pw@127.0.0.1/x", "connect_timeout": 1.5,
              "statement_timeout": 3},
        "c": "postgresql://postgres@127.0.0.1/y"}})
    a, b, c = cells.load_cells_file(path, {"read_timeout": 7})
    assert a.url.drivername == "sqlite" and a.read_timeout == 7
    assert b.url.drivername == "mysql+pymysql"
    assert (b.connect_timeout, b.statement_timeout) == (1.5, 3.0)
    assert c.url.drivername == "postgresql+psycopg"
    assert "pw" not in repr(b) and "***" in str(b)


@pytest.mark.parametrize("content,expected", [
    ("{not json", "is not valid JSON"),
    ("[]", "must map cell names to URLs"),
    ({"cells": {}}, "must map cell names to URLs"),
    ({"cells": {"a": "oracle://u:pw@h/db"}}, "unsupported database driver"),
    ({"cells": {"a": "::::"}}, "cannot parse database URL"),
    ({"cells": {"a": "mysql+pymysql://u@h/"}}, "names no database"),
    ({"cells": {"a b": "sqlite:///x"}}, "cell name 'a b' is invalid"),
    ({"cells": {"a": {"url": "sqlite:///x", "connect_timeout": -1}}},
     "connect_timeout must be a positive number"),
    ({"cells": {"a": {"url": "sqlite:///x", "timeout": 1}}},
     "unknown keys ['timeout']"),
    ({"cells": {"a": 42}}, "expected a URL string or an object"),
])
def test_bad_cells_file_names_the_problem(tmp_path, content, expected):
    with pytest.raises(cells.CellConfigError) as info:
        cells.load_cells_file(_write(tmp_path, content))
    assert expected in str(info.value)
    assert "pw" not in str(info.value).replace("pymysql", "")


def test_missing_file(tmp_path):
    with pytest.raises(cells.CellConfigError, match="does not exist"):
        cells.load_cells_file(str(tmp_path / "nope.json"))


def test_mask_url_hides_passwords():
    assert cells.mask_url("mysql+pymysql://root:s3cret@h/db") == \
        "mysql+pymysql://root:***@h/db"
    assert "s3cret" not in cells.mask_url("rabbit://guest:s3cret@h:5672/")
    assert "s3cret" not in cells.mask_url("not a url://u:s3cret@x")


def test_sqlite_cells_validates_count(tmp_path):
    assert list(cells.sqlite_cells(str(tmp_path), 2)) == ["cell1", "cell2"]
    with pytest.raises(cells.CellConfigError, match="positive integer"):
        cells.sqlite_cells(str(tmp_path), 0)
