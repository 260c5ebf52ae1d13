"""The study area's pixel raster and the pixels within reach of the street segments.

:func:`study_raster_and_samples` keeps the pixels whose centre lies within ``buffer_m`` of a
segment and inside the study region (plus the crimes' own pixels), and returns the
:class:`Samples`: points along the segments with the pixels in reach of each, from which
:func:`hotspots.evaluate.units.build_units` gives every street unit its pixels.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely

from hotspots.evaluate.geometry_cache import cached_array, geometry_bytes
from hotspots.space.cache import source_digest

__all__ = [
    "DEFAULT_BUFFER_M",
    "DEFAULT_PIXEL_M",
    "Raster",
    "Samples",
    "pixel_pairs",
    "study_raster_and_samples",
]

DEFAULT_PIXEL_M = 10.0
DEFAULT_BUFFER_M = 30.0


@dataclass
class Raster:
    """The kept pixels of the study area: their flat ids (row x nx + col), sorted."""

    x0: float
    y0: float
    pixel_m: float
    nx: int
    flat: np.ndarray

    @property
    def area_m2(self) -> float:
        """Area of the kept pixels, m² (the study area ``A`` of the area backtest)."""
        return float(len(self.flat) * self.pixel_m**2)

    def flat_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Return the flat pixel id of each point (kept or not)."""
        col = np.floor((np.asarray(x) - self.x0) / self.pixel_m).astype(np.int64)
        row = np.floor((np.asarray(y) - self.y0) / self.pixel_m).astype(np.int64)
        return row * self.nx + col

    def index(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Return the kept-pixel index of each point, -1 where the pixel is not kept."""
        return self.lookup(self.flat_of(x, y))

    def lookup(self, flat: np.ndarray) -> np.ndarray:
        """Return the kept-pixel index of flat ids, -1 where not kept."""
        pos = np.minimum(np.searchsorted(self.flat, flat), max(len(self.flat) - 1, 0))
        return np.where(self.flat[pos] == flat, pos, -1) if len(self.flat) else -np.ones_like(flat)


def _disc(pixel_m: float, radius_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the (row, col) offsets of the pixels around a point's pixel that may be in reach.

    Also whether each is in reach wherever the point lies in its pixel (its centre is within
    ``radius_m`` even from the far corner, with a margin far beyond rounding): only the others
    need their distance computed. Offsets out of reach from anywhere in the pixel are left out.
    """
    r = math.ceil(radius_m / pixel_m) + 1
    dr, dc = (
        a.ravel() for a in np.meshgrid(np.arange(-r, r + 1), np.arange(-r, r + 1), indexing="ij")
    )
    ar, ac = np.abs(dr), np.abs(dc)
    near = (np.maximum(ar - 0.5, 0) ** 2 + np.maximum(ac - 0.5, 0) ** 2) * pixel_m**2
    far = ((ar + 0.5) ** 2 + (ac + 0.5) ** 2) * pixel_m**2
    margin = 1e-6 * radius_m**2
    maybe = near <= radius_m**2 + margin
    return dr[maybe], dc[maybe], far[maybe] <= radius_m**2 - margin


#: Point-offset cells per chunk in :func:`pixel_pairs`: each temporary about 1 MB, reused from the
#: heap chunk after chunk. Chunks of 100,000 points (about 100 MB temporaries, fresh memory for
#: each) took Vancouver's 344,456 sample points 2.0-3.4 s, 1.7-3.0 s of it the kernel's (page
#: faults); chunks of this size 0.33-1.49 s, median 0.43 s of 15 runs. Any chunk gives the
#: same pairs in order.
_PAIR_CELLS = 131_072


def pixel_pairs(
    raster: Raster, xy: np.ndarray, radius_m: float, chunk: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return (point, flat pixel) pairs: the pixel centres within ``radius_m`` of each point.

    Parameters
    ----------
    raster
        The raster the flat pixel ids refer to (row x ``nx`` + col).
    xy
        Points (n x 2).
    radius_m
        Reach, metres.
    chunk
        Points handled at a time (default: about 1 MB of temporaries); any gives the same pairs.

    Returns
    -------
    tuple of numpy.ndarray
        Point index and flat pixel id of each pair, point by point.
    """
    dr, dc, sure = _disc(raster.pixel_m, radius_m)
    test = ~sure
    chunk = chunk or max(1, _PAIR_CELLS // len(dr))
    px = raster.pixel_m
    points, flats = [], []
    for s in range(0, len(xy), chunk):
        x, y = xy[s : s + chunk, 0], xy[s : s + chunk, 1]
        col = np.floor((x - raster.x0) / px).astype(np.int64)[:, None] + dc
        row = np.floor((y - raster.y0) / px).astype(np.int64)[:, None] + dr
        keep = np.ones(col.shape, dtype=bool)
        d2 = (raster.x0 + (col[:, test] + 0.5) * px - x[:, None]) ** 2 + (
            raster.y0 + (row[:, test] + 0.5) * px - y[:, None]
        ) ** 2
        keep[:, test] = d2 <= radius_m**2
        points.append(np.nonzero(keep)[0] + s)
        flats.append((row * raster.nx + col)[keep])
    return np.concatenate(points), np.concatenate(flats)


def _unique_pairs(owner: np.ndarray, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    span = int(flat.max()) + 1 if len(flat) else 1
    # the pairs come owner by owner: a stable (merge) sort of these nearly sorted keys is
    # several times faster than np.unique's hashing, and gives the same sorted unique keys
    key = np.sort(owner.astype(np.int64) * span + flat, kind="stable")
    key = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key
    return key // span, key % span


def _unique_ids(ids: np.ndarray) -> np.ndarray:
    """Return the sorted unique non-negative ids, by a mask when their range is small.

    Examples
    --------
    >>> _unique_ids(np.array([5, 1, 5, 3])).tolist()
    [1, 3, 5]
    """
    if not len(ids) or ids.min() < 0 or ids.max() > 8 * len(ids) + (1 << 24):
        return np.unique(ids)
    seen = np.zeros(int(ids.max()) + 1, dtype=bool)
    seen[ids] = True
    return np.flatnonzero(seen).astype(ids.dtype)


class Samples:
    """Points every ``pixel_m / 2`` along the segments, and the pixels in reach of each.

    The (point, pixel) pairs (:attr:`pairs`) are found when first asked for: Vancouver's
    streets give about 10 million (160 MB). What the unit sets keep of them, the distinct
    (unit, pixel) pairs (:meth:`unit_pairs`), is kept in the cache folder when one is given
    (:mod:`hotspots.evaluate.geometry_cache`), so a rerun on the same streets reads them back
    (26 MB for Vancouver's links and pieces) instead of finding and sorting the pairs again.

    Parameters
    ----------
    raster
        The raster the pixel ids refer to.
    geoms
        Street segment lines (projected, metres).
    buffer_m
        Buffer distance, metres.
    cache
        A cache folder, or None (the pairs are found every time).
    key
        What else the segments' pairs depend on (e.g. :func:`geometry_bytes` of ``geoms``).
    """

    def __init__(
        self,
        raster: Raster,
        geoms: np.ndarray,
        buffer_m: float,
        *,
        cache: str | Path | None = None,
        key: Sequence[str | bytes] = (),
    ) -> None:
        step = raster.pixel_m / 2
        self._geoms, self._step = geoms, step
        self.raster = raster
        # a pixel centre within buffer_m of the line is within this of a sample point
        self.radius_m = math.sqrt(buffer_m**2 + (step / 2) ** 2)
        self._cache = cache
        self._key = [
            f"{raster.x0!r} {raster.y0!r} {raster.nx} {raster.pixel_m!r} {float(buffer_m)!r}",
            source_digest(sys.modules[__name__]),
            *key,
        ]
        self._pairs: tuple[np.ndarray, np.ndarray] | None = None

    @functools.cached_property
    def _points(self) -> tuple[np.ndarray, np.ndarray]:
        # found only when the pairs or a unit set's owners are (a cache hit needs neither)
        xy, line = shapely.get_coordinates(
            shapely.segmentize(self._geoms, self._step), return_index=True
        )
        return xy, line

    @property
    def xy(self) -> np.ndarray:
        """The points (n x 2), every ``pixel_m / 2`` along each segment."""
        return self._points[0]

    @property
    def line(self) -> np.ndarray:
        """The segment (row of ``geoms``) of each point."""
        return self._points[1]

    @property
    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(point, flat pixel id) of every pixel centre in reach of a point, point by point."""
        if self._pairs is None:
            self._pairs = pixel_pairs(self.raster, self.xy, self.radius_m)
        return self._pairs

    def unit_pairs(
        self, kind: str, owner_of_point: Callable[[], np.ndarray], key: Sequence[str] = ()
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the distinct (unit, flat pixel id) pairs of units made of the points.

        Parameters
        ----------
        kind
            The unit set's name (part of the cache file's name).
        owner_of_point
            Returns the unit of each point (called only when the pairs are not cached).
        key
            What else the units depend on (e.g. the piece length and the source building them).

        Returns
        -------
        tuple of numpy.ndarray
            Units and pixel ids, sorted by unit, then pixel (int32 where the ids allow).
        """

        def build() -> np.ndarray:
            point, flat = self.pairs
            both = np.stack(_unique_pairs(owner_of_point()[point], flat))
            return both.astype(np.int32) if both.size and both.max() < 2**31 else both

        both = cached_array(f"{kind}_pairs", [*self._key, *key], build, self._cache)
        return both[0], both[1]


def study_raster_and_samples(
    segments_geoms: np.ndarray,
    region: shapely.Geometry,
    *,
    pixel_m: float = DEFAULT_PIXEL_M,
    buffer_m: float = DEFAULT_BUFFER_M,
    extra_xy: np.ndarray | None = None,
    cache: str | Path | None = None,
) -> tuple[Raster, Samples]:
    """Return the study area's pixels: centres near a segment and inside ``region``.

    A pixel is kept when its centre lies within ``buffer_m`` of a segment and inside ``region``,
    or when it holds a point of ``extra_xy`` (the crimes).

    Parameters
    ----------
    segments_geoms
        Street segment lines (projected, metres).
    region
        The study area polygon (e.g. from :func:`hotspots.evaluate.segments_to_study_area`).
    pixel_m
        Pixel side, metres.
    buffer_m
        Buffer distance, metres.
    extra_xy
        Points (n x 2) whose pixels are kept even if their centre falls outside.
    cache
        A cache folder: the pixels near a segment and inside ``region``, and the pixels of
        each unit set (:meth:`Samples.unit_pairs`), are kept there and read back for the same
        segments and region (:mod:`hotspots.evaluate.geometry_cache`); None finds them every
        time.

    Returns
    -------
    tuple
        The kept pixels (:class:`Raster`) and the sample points along the segments with the
        pixels in reach (for :func:`hotspots.evaluate.units.build_units`).

    Examples
    --------
    >>> from shapely.geometry import LineString
    >>> line = np.array([LineString([(0, 0), (100, 0)])])
    >>> r, _ = study_raster_and_samples(line, shapely.box(-50, -50, 150, 50), pixel_m=1.0,
    ...                                 buffer_m=10.0)
    >>> round(r.area_m2 / (100 * 20 + math.pi * 100), 2)
    1.0
    """
    x0, y0, x1, _ = shapely.total_bounds(segments_geoms)
    pad = buffer_m + 2 * pixel_m
    base = Raster(
        math.floor((x0 - pad) / pixel_m) * pixel_m,
        math.floor((y0 - pad) / pixel_m) * pixel_m,
        pixel_m,
        math.ceil((x1 - x0 + 2 * pad) / pixel_m) + 2,
        np.empty(0, np.int64),
    )
    lines = geometry_bytes(segments_geoms)
    samples = Samples(base, segments_geoms, buffer_m, cache=cache, key=[lines])

    def inside() -> np.ndarray:
        near = _unique_ids(samples.pairs[1])
        cx = base.x0 + (near % base.nx + 0.5) * pixel_m
        cy = base.y0 + (near // base.nx + 0.5) * pixel_m
        shapely.prepare(region)
        return np.asarray(near[shapely.contains_xy(region, cx, cy)])

    parts: list[str | bytes] = [
        f"{float(pixel_m)!r} {float(buffer_m)!r}",
        source_digest(sys.modules[__name__]),
        geometry_bytes(region),
        lines,
    ]
    flat = cached_array("pixels", parts, inside, cache)
    if extra_xy is not None and len(extra_xy):
        flat = _unique_ids(np.concatenate([flat, base.flat_of(extra_xy[:, 0], extra_xy[:, 1])]))
    base.flat = flat
    return base, samples
