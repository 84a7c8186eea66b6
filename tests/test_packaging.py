"""What a plain ``pip install nps-sync`` brings: everything the documented settings can select."""

from __future__ import annotations

from importlib.metadata import requires

from packaging.requirements import Requirement


def test_the_postgresql_driver_is_a_default_dependency() -> None:
    default = {
        Requirement(spec).name.lower()
        for spec in requires("nps-sync") or []
        if Requirement(spec).marker is None
    }
    assert "psycopg" in default
    assert {"sqlalchemy", "google-re2", "simple-salesforce", "zenpy"} <= default
