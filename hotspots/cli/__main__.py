"""``python -m hotspots.cli``: the same command line as ``hotspots``."""

from hotspots.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    main()
