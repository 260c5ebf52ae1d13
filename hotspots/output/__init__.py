"""Output: maps, the map site and index, offline assets, exports and the run report."""

__all__: list[str] = []
