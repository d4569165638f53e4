"""seesall: vision beyond classification, on one scene data model."""

__version__ = "0.1.0"
