"""compbench: a pytest-benchmark regression suite for compressed vision models.

The importable core (settings, assets, cache, variant table, baselines, report) lives here;
models, compression recipes, evaluation protocols and engines are sibling packages so a
newcomer finds each concept by its folder name.
"""

__version__ = "0.1.0"
