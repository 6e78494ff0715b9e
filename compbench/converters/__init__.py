"""Format converters, one module per edge of ``compbench.artifacts.ROUTES``."""
