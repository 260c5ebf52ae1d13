"""Analysis: ranks, concentration, harm, repeat callers, significance, clusters, corridors."""

__all__: list[str] = []
