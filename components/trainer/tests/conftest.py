"""Raw Examples, their schema and the stock Transform's output, shared by the executor tests: Transform runs once."""

from __future__ import annotations

import pytest

from components.trainer.tests import fixtures


@pytest.fixture(scope="session")
def examples(tmp_path_factory):
    return fixtures.make_examples(tmp_path_factory.mktemp("examples"))


@pytest.fixture(scope="session")
def schema(tmp_path_factory):
    return fixtures.make_schema(tmp_path_factory.mktemp("schema"))


@pytest.fixture(scope="session")
def transformed(examples, schema, tmp_path_factory):
    """(transformed examples, transform graph) of the stock Transform executor."""
    return fixtures.run_transform(examples, schema, tmp_path_factory.mktemp("transform"))
