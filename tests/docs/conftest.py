"""Fixtures of the docs group: Node.js and the dependencies of the JavaScript examples."""

from pathlib import Path

import pytest

from tests.docs.node import EXAMPLES, install_examples


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """docs/examples/node_modules, installed with ``npm ci`` if any dependency is missing."""
    problem = install_examples()
    if problem is not None:
        pytest.fail(f"the JavaScript examples in docs/ cannot run: {problem}")
    return EXAMPLES / "node_modules"
