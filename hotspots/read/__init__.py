"""Reading: crime files, the canonical crime table, boundaries, streets and downloads."""

__all__: list[str] = []
