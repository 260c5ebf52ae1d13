"""Space: coordinate systems, street segments, snapping, names, grid cells and locations."""

__all__: list[str] = []
