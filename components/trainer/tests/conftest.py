"""Raw Examples (binary and k = 4), their schema and the stock Transform's output: Transform runs once each."""

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


@pytest.fixture(scope="session")
def multiclass_examples(tmp_path_factory):
    """The k = 4 fixture: raw Examples whose label is the class index 0..3, two classes rare."""
    return fixtures.make_examples(tmp_path_factory.mktemp("multiclass_examples"), fixtures.MULTICLASS_SPLIT_COUNTS)


@pytest.fixture(scope="session")
def multiclass_transformed(multiclass_examples, schema, tmp_path_factory):
    """(transformed examples, transform graph) of the k = 4 fixture; the label passes through as its index."""
    return fixtures.run_transform(multiclass_examples, schema, tmp_path_factory.mktemp("multiclass_transform"))
