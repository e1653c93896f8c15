"""Shared test configuration: kept minimal; each suite has its own conftest."""

# pytester runs small test files through nestpy's pytest plugin (tests/e2e/testing).
# pytest only honours pytest_plugins in a top-level conftest, hence here.
pytest_plugins = ["pytester"]
