"""Corridors: a named road's continuous run of street segments, ranked per kilometre.

Road-safety and patrol work looks along a road, not at one block: a corridor is the run of
segments of one named road that touch end to end across junctions.

Rules (all in :func:`corridor_labels`):

- Segments join when their names fold to the same text (:func:`hotspots.space.names.normalise_name`)
  and they share an end point (coordinates rounded to the centimetre, as segments are cut).
- Where exactly two ends of the road meet at a point, the run continues whatever the turn
  (a road that keeps its name round a corner is one road). Where three or more meet (the
  road branches, forks or splits into carriageways), the run continues only through the
  straightest pair, and only if that pair turns by at most ``max_turn_deg``; the other
  branches start or end their own corridors there.
- A single unnamed segment between two ends of the same road (a block no record named, as
  with Vancouver's centrelines, named from the crime records) carries the road's name, so one
  quiet block does not cut a road in two. Longer unnamed gaps still cut it.
- A run longer than ``max_length_m`` (default :data:`DEFAULT_MAX_LENGTH_M`, 3 km) is cut into
  the fewest pieces of nearly equal length no longer than that (each segment goes to the piece
  holding its midpoint), so a 10 km arterial gives four stretches of 2.5 km, each a size a
  scheme or patrol plan deals with.
- Corridors shorter than ``min_length_m`` (default :data:`DEFAULT_MIN_LENGTH_M`, 500 m) or
  without any crime are left out of the table: a rate per km over a single block is a
  hot street, not a corridor.

Counts per kilometre are ranked three ways: crimes, harm (Cambridge Crime Harm Index days)
and collisions, where the data has collision types (any crime type whose name contains
"collision", e.g. VPD's "Vehicle Collision or Pedestrian Struck (with Injury)" and "(with
Fatality)": every VPD collision record is an injury or fatal one).
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from hotspots.space.crs import WGS84
from hotspots.space.names import normalise_name

__all__ = [
    "COLLISION_WORD",
    "CORRIDOR_COLUMNS",
    "DEFAULT_MAX_LENGTH_M",
    "DEFAULT_MAX_TURN_DEG",
    "DEFAULT_MIN_LENGTH_M",
    "build_corridors",
    "corridor_labels",
]

#: Longest corridor, metres; longer runs are cut into nearly equal pieces.
DEFAULT_MAX_LENGTH_M = 3000.0
#: Shortest corridor written, metres.
DEFAULT_MIN_LENGTH_M = 500.0
#: Largest turn (degrees) through a point where three or more ends of one road meet.
DEFAULT_MAX_TURN_DEG = 45.0
#: Crime types whose name contains this (any case) are collisions.
COLLISION_WORD = "collision"
#: Columns of :func:`build_corridors` before the ``n_<type>`` counts and geometry.
CORRIDOR_COLUMNS: list[str] = [
    "rank",
    "rank_by_harm",
    "rank_by_collisions",
    "corridor_id",
    "street",
    "extent",
    "area_code",
    "area_name",
    "area_codes",
    "length_m",
    "segment_count",
    "crimes",
    "crimes_per_km",
    "harm",
    "harm_per_km",
    "collisions",
    "collisions_per_km",
    "lon",
    "lat",
    "segment_ids",
]

_DECIMALS = 2  # end points matched to the centimetre, as in hotspots.space.segments
_STEP_M = 5.0  # direction of a segment at an end: towards its point this far along


def _end_vertices(geoms: np.ndarray) -> np.ndarray:
    """Return an (n, 2) array of vertex ids of each segment's first and last point."""
    ends = np.vstack([shapely.get_coordinates(shapely.get_point(geoms, i)) for i in (0, -1)])
    _, vid = np.unique(np.round(ends, _DECIMALS), axis=0, return_inverse=True)
    return vid.ravel().reshape(2, -1).T


def _end_directions(geoms: np.ndarray) -> np.ndarray:
    """Return (n, 2, 2) unit vectors pointing from each end into the segment."""
    length = shapely.length(geoms)
    step = np.minimum(_STEP_M, length / 2)
    out = np.zeros((len(geoms), 2, 2))
    for end, at in ((0, step), (1, length - step)):
        tip = shapely.get_coordinates(shapely.get_point(geoms, -end))
        inner = shapely.get_coordinates(shapely.line_interpolate_point(geoms, at))
        d = inner - tip
        out[:, end] = d / np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)[:, None]
    return out


def _fill_gaps(keys: pd.Series, vertices: np.ndarray) -> pd.Series:
    """Give a single unnamed segment the name found at both its ends (see the module notes)."""
    named = keys.notna().to_numpy()
    at = pd.DataFrame(
        {"v": vertices[named].ravel(), "key": np.repeat(keys[named].to_numpy(dtype=object), 2)}
    ).drop_duplicates()
    gap = np.flatnonzero(~named)
    sides = [
        pd.DataFrame({"seg": gap, "v": vertices[gap, end]}).merge(at, on="v") for end in (0, 1)
    ]
    both = sides[0].merge(sides[1], on=["seg", "key"])[["seg", "key"]].drop_duplicates()
    one = both[both.groupby("seg")["key"].transform("size") == 1]
    out = keys.copy()
    out.iloc[one["seg"].to_numpy()] = one["key"].to_numpy()
    return out


def _pairs(
    keys: pd.Series, vertices: np.ndarray, directions: np.ndarray, max_turn_deg: float
) -> np.ndarray:
    """Return the joined ends: partner[2 * seg + end] = 2 * other + its end, or -1."""
    named = np.flatnonzero(keys.notna().to_numpy())
    ends = pd.DataFrame(
        {
            "end": np.concatenate([2 * named, 2 * named + 1]),
            "v": np.concatenate([vertices[named, 0], vertices[named, 1]]),
            "key": np.tile(keys.to_numpy(dtype=object)[named], 2),
        }
    )
    partner = np.full(2 * len(keys), -1, dtype=np.int64)
    size = ends.groupby(["v", "key"], sort=False)["end"].transform("size").to_numpy()
    two = ends[size == 2].sort_values(["v", "key", "end"], kind="stable")["end"].to_numpy()
    a, b = two[0::2], two[1::2]
    ok = a // 2 != b // 2  # a segment whose two ends meet (a loop) never joins itself
    partner[a[ok]], partner[b[ok]] = b[ok], a[ok]
    limit = -math.cos(math.radians(max_turn_deg))
    flat = directions.reshape(-1, 2)
    for _, group in ends[size > 2].groupby(["v", "key"], sort=False):
        e = group["end"].to_numpy()
        cos = flat[e] @ flat[e].T  # straight on: directions opposite, cosine -1
        cos[e[:, None] // 2 == e[None, :] // 2] = np.inf
        i, j = np.unravel_index(np.argmin(cos), cos.shape)
        if cos[i, j] <= limit:
            partner[e[i]], partner[e[j]] = e[j], e[i]
    return partner


def _walk(partner: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return each segment's position along its run and the end it is entered by."""
    n = len(labels)
    order = np.full(n, -1, dtype=np.int64)
    entry = np.zeros(n, dtype=np.int64)
    free = [s for s in range(n) if partner[2 * s] < 0 or partner[2 * s + 1] < 0]
    starts = free + list(range(n))  # paths from a free end first; then rings anywhere
    for s0 in starts:
        if order[s0] >= 0 or labels[s0] < 0:
            continue
        seg, end, pos = s0, (0 if partner[2 * s0] < 0 else 1), 0
        while seg >= 0 and order[seg] < 0:
            order[seg], entry[seg] = pos, end
            pos += 1
            nxt = partner[2 * seg + 1 - end]
            seg, end = (int(nxt // 2), int(nxt % 2)) if nxt >= 0 else (-1, 0)
    return order, entry


def corridor_labels(
    segments: gpd.GeoDataFrame,
    *,
    max_length_m: float = DEFAULT_MAX_LENGTH_M,
    max_turn_deg: float = DEFAULT_MAX_TURN_DEG,
) -> pd.DataFrame:
    """Return each segment's corridor, its order along it and the street name used.

    Parameters
    ----------
    segments
        Segments with ``street_name``, ``length_m`` and line geometry (metric CRS).
    max_length_m, max_turn_deg
        See the module notes.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``segments``: ``corridor`` (a number; -1 for an unnamed segment),
        ``order`` (0, 1, ... along the corridor from one end), ``entry`` (the end, 0 or 1,
        by which the walk enters the segment) and ``key`` (the folded name).
    """
    geoms = segments.geometry.to_numpy()
    vertices = _end_vertices(geoms)
    keys = _fill_gaps(normalise_name(segments["street_name"]).reset_index(drop=True), vertices)
    partner = _pairs(keys, vertices, _end_directions(geoms), max_turn_deg)
    n = len(segments)
    joined = np.flatnonzero(partner >= 0)
    graph = coo_matrix((np.ones(len(joined)), (joined // 2, partner[joined] // 2)), shape=(n, n))
    labels = connected_components(graph, directed=False)[1].astype(np.int64)
    labels[keys.isna().to_numpy()] = -1
    order, entry = _walk(partner, labels)
    table = pd.DataFrame(
        {"corridor": labels, "order": order, "entry": entry, "key": keys.to_numpy(dtype=object)}
    )
    table = table.sort_values(["corridor", "order"], kind="stable")
    length = pd.Series(
        segments["length_m"].to_numpy(dtype=float)[table.index.to_numpy()], index=table.index
    )
    by = length.groupby(table["corridor"])
    total = by.transform("sum")
    mid = by.cumsum() - length / 2
    pieces = np.ceil(total / max_length_m).clip(lower=1)
    piece = np.minimum(np.floor(mid / (total / pieces)), pieces - 1).astype(np.int64)
    split = table["corridor"] >= 0
    new = pd.Series(-1, index=table.index, dtype=np.int64)
    new[split] = pd.factorize(
        pd.MultiIndex.from_arrays([table.loc[split, "corridor"], piece[split]])
    )[0]
    table["corridor"] = new
    table["order"] = table.groupby("corridor").cumcount()
    return table.sort_index().set_axis(segments.index)


def build_corridors(
    segments: gpd.GeoDataFrame,
    counts: pd.DataFrame,
    *,
    harm: pd.Series | None = None,
    type_names: Mapping[str, str] | None = None,
    min_length_m: float = DEFAULT_MIN_LENGTH_M,
    max_length_m: float = DEFAULT_MAX_LENGTH_M,
    max_turn_deg: float = DEFAULT_MAX_TURN_DEG,
) -> gpd.GeoDataFrame:
    """Join segments into corridors and rank them by crimes, harm and collisions per km.

    Parameters
    ----------
    segments
        Segments with ``segment_id``, ``street_name``, ``length_m``, line geometry (metric
        CRS) and, if known, ``area_code`` and ``area_name``.
    counts
        From :func:`hotspots.analysis.rank.count_by_segment`, indexed like ``segments``.
    harm
        Harm per segment (CCHI days), indexed like ``segments``; zeros when None.
    type_names
        ``n_<type>`` column -> crime type as written (run.json ``crime_type_columns``); the
        types containing "collision" are counted as collisions. No collision columns
        (``collisions``, ``collisions_per_km``, ``rank_by_collisions``) when there are none.
    min_length_m, max_length_m, max_turn_deg
        See the module notes.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per corridor of at least ``min_length_m`` with a crime: the columns of
        :data:`CORRIDOR_COLUMNS` the data allows, the ``n_<type>`` counts and the merged line
        (CRS of ``segments``), sorted by ``rank`` (crimes per km; ties share a rank).
        ``corridor_id`` is a hash of the corridor's segment ids (stable between runs on the
        same streets); ``extent`` names the streets met at the two ends.
    """
    labels = corridor_labels(segments, max_length_m=max_length_m, max_turn_deg=max_turn_deg)
    type_cols = [c for c in counts.columns if c.startswith("n_")]
    crash = [c for c in type_cols if COLLISION_WORD in str((type_names or {}).get(c, "")).lower()]
    seg = pd.DataFrame(
        {
            "corridor": labels["corridor"].to_numpy(),
            "order": labels["order"].to_numpy(),
            "segment_id": segments["segment_id"].astype(str).to_numpy(),
            "street_name": segments["street_name"].to_numpy(dtype=object),
            "area_code": _column(segments, "area_code"),
            "area_name": _column(segments, "area_name"),
            "length_m": segments["length_m"].to_numpy(dtype=float),
            "crimes": counts["crimes"].to_numpy(),
            "harm": np.zeros(len(segments)) if harm is None else harm.to_numpy(dtype=float),
            **{c: counts[c].to_numpy() for c in type_cols},
        },
        index=segments.index,
    )
    if crash:
        seg["collisions"] = seg[crash].sum(axis=1)
    seg = seg[seg["corridor"] >= 0]
    g = seg.groupby("corridor")
    sums = g[["length_m", "crimes", "harm", *(["collisions"] if crash else []), *type_cols]].sum()
    keep = sums.index[(sums["length_m"] >= min_length_m) & (sums["crimes"] > 0)]
    seg = seg[seg["corridor"].isin(keep)].sort_values(["corridor", "order"], kind="stable")
    if seg.empty:
        cols = [c for c in CORRIDOR_COLUMNS if crash or "collision" not in c]
        return gpd.GeoDataFrame(
            columns=[*cols, *type_cols, "geometry"], geometry="geometry", crs=segments.crs
        )
    out = sums.loc[keep].copy()
    g = seg.groupby("corridor", sort=True)
    ids = g["segment_id"].agg(";".join)
    out["segment_ids"] = ids
    out["corridor_id"] = [_corridor_id(s) for s in ids]
    out["segment_count"] = g.size()
    out["street"] = _most_common(seg, "street_name").reindex(out.index).fillna("")
    by_area = seg.groupby(["corridor", "area_code"], dropna=False)["length_m"].sum().reset_index()
    by_area = by_area.sort_values(["corridor", "length_m"], ascending=[True, False], kind="stable")
    main = by_area.drop_duplicates("corridor").set_index("corridor")["area_code"]
    out["area_code"] = main
    names = seg.drop_duplicates(["corridor", "area_code"])[["corridor", "area_code", "area_name"]]
    out["area_name"] = (
        main.reset_index()
        .merge(names, on=["corridor", "area_code"], how="left")
        .set_index("corridor")["area_name"]
    )
    codes = by_area.dropna(subset=["area_code"]).astype({"area_code": str})
    out["area_codes"] = (
        codes.sort_values(["corridor", "area_code"], kind="stable")
        .groupby("corridor")["area_code"]
        .agg(";".join)
    )
    out["length_m"] = out["length_m"].round(1)
    km = out["length_m"] / 1000
    out["harm"] = out["harm"].round(1)
    for what in ("crimes", "harm", *(["collisions"] if crash else [])):
        out[f"{what}_per_km"] = (out[what] / km).round(2)
    out["rank"] = _rank(out, ["crimes_per_km", "crimes"])
    out["rank_by_harm"] = _rank(out, ["harm_per_km", "harm"])
    if crash:
        out["rank_by_collisions"] = _rank(out, ["collisions_per_km", "collisions"])
    cuts = np.flatnonzero(np.diff(seg["corridor"].to_numpy())) + 1
    geoms = [
        shapely.line_merge(shapely.union_all(part))
        for part in np.split(segments.geometry.loc[seg.index].to_numpy(), cuts)
    ]
    out["extent"] = _extents(seg, segments, labels["key"])
    mid = shapely.line_interpolate_point(
        shapely.get_geometry(np.asarray(geoms, dtype=object), 0), 0.5, normalized=True
    )
    ll = gpd.GeoSeries(mid, crs=segments.crs).to_crs(WGS84)
    out["lon"], out["lat"] = ll.x.round(6).to_numpy(), ll.y.round(6).to_numpy()
    cols = [c for c in CORRIDOR_COLUMNS if c in out.columns]
    result = gpd.GeoDataFrame(out[[*cols, *type_cols]], geometry=geoms, crs=segments.crs)
    return result.sort_values(
        ["rank", "crimes", "corridor_id"], ascending=[True, False, True], kind="stable"
    ).reset_index(drop=True)


def _column(segments: pd.DataFrame, name: str) -> np.ndarray:
    if name in segments.columns:
        values: np.ndarray = segments[name].astype(object).to_numpy()
        return values
    return np.full(len(segments), None, dtype=object)


def _most_common(table: pd.DataFrame, col: str) -> pd.Series:
    """Return per corridor the most frequent non-missing ``col`` (ties: first by name)."""
    n = table[["corridor", col]].dropna().astype({col: str}).value_counts().rename("n")
    n = n.reset_index().sort_values(
        ["corridor", "n", col], ascending=[True, False, True], kind="stable"
    )
    return n.drop_duplicates("corridor").set_index("corridor")[col].astype(object)


def _corridor_id(segment_ids: str) -> str:
    return "c" + hashlib.sha256(";".join(sorted(segment_ids.split(";"))).encode()).hexdigest()[:12]


def _rank(table: pd.DataFrame, keys: list[str]) -> pd.Series:
    """Competition rank (1, 2, 2, 4) over ``keys`` descending."""
    tup = pd.Series(list(zip(*(table[k] for k in keys), strict=True)), index=table.index)
    return tup.rank(method="min", ascending=False).astype("int64")


def _extents(seg: pd.DataFrame, segments: gpd.GeoDataFrame, keys: pd.Series) -> list[str]:
    """Return "from A to B": other named streets met at each corridor's two end points.

    ``seg`` holds the corridors' segments (``corridor``, ``order``), sorted by corridor and
    order, indexed like ``segments``; ``keys`` are the folded names of all segments.
    """
    vertices = _end_vertices(segments.geometry.to_numpy())
    names = segments["street_name"].to_numpy(dtype=object)
    folded = keys.to_numpy(dtype=object)
    at: dict[int, set[tuple[str, str]]] = {}
    for i in np.flatnonzero(pd.notna(names)):
        for v in vertices[i]:
            at.setdefault(int(v), set()).add((str(folded[i]), str(names[i])))
    pos = segments.index.get_indexer(seg.index)
    bounds = [0, *(np.flatnonzero(np.diff(seg["corridor"].to_numpy())) + 1).tolist(), len(pos)]
    texts = []
    for a, b in itertools.pairwise(bounds):
        p = pos[a:b]
        own = str(folded[p[0]])
        met = [
            sorted({n for k, n in at.get(v, set()) if k != own}) for v in _outer_ends(vertices[p])
        ]
        parts = [f"{w} {m[0]}" for w, m in zip(("from", "to"), met, strict=True) if m]
        texts.append(" ".join(parts))
    return texts


def _outer_ends(vertices: np.ndarray) -> list[int]:
    """Return the first and last point of a run given its segments' end vertices in order."""
    if len(vertices) == 1:
        return [int(vertices[0, 0]), int(vertices[0, 1])]
    first = set(vertices[0]) - set(vertices[1])
    last = set(vertices[-1]) - set(vertices[-2])
    start = int(first.pop()) if first else int(vertices[0, 0])
    stop = int(last.pop()) if last else int(vertices[-1, 1])
    return [start, stop]
