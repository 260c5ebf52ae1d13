"""Network distance between street pieces and the network kernel-density matrices.

The street network is the segment graph: nodes are segment end points (rounded to 1 cm),
edges are segments weighted by their length. The distance between two pieces is the shortest
path between their midpoints along the network: along their own segment when they share one,
otherwise out through an end of each (``scipy.sparse.csgraph.dijkstra``, bounded). Kernels are
Gaussian in that distance and truncated at :data:`TRUNCATE` bandwidths.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from hotspots.evaluate.units import UnitSet

__all__ = [
    "TRUNCATE",
    "node_distances",
    "piece_distances",
    "piece_kernels",
]

TRUNCATE = 3.0
_CHUNK = 512


def _nodes(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    ends = np.vstack([shapely.get_coordinates(shapely.get_point(geoms, i)) for i in (0, -1)])
    _, node = np.unique(np.round(ends, 2), axis=0, return_inverse=True)
    node = node.ravel()
    n = len(geoms)
    return node[:n], node[n:], int(node.max()) + 1


def node_distances(geoms: np.ndarray, limit_m: float) -> pd.DataFrame:
    """Return the shortest network distances between segment end points up to ``limit_m``.

    Parameters
    ----------
    geoms
        Segment lines (projected, metres).
    limit_m
        Largest distance kept, metres.

    Returns
    -------
    pandas.DataFrame
        ``a``, ``b`` (node ids as in the segments' end points), ``d`` (metres), every pair
        with ``d <= limit_m``, both orders and ``a == b`` included.

    Examples
    --------
    >>> from shapely.geometry import LineString
    >>> g = np.array([LineString([(0, 0), (100, 0)]), LineString([(100, 0), (100, 50)])])
    >>> node_distances(g, 200.0).sort_values(["a", "b"])["d"].tolist()
    [0.0, 100.0, 150.0, 100.0, 0.0, 50.0, 150.0, 50.0, 0.0]
    """
    u, v, n = _nodes(geoms)
    length = shapely.length(geoms)
    edges = pd.DataFrame({"a": np.minimum(u, v), "b": np.maximum(u, v), "w": length})
    edges = edges[edges["a"] != edges["b"]].groupby(["a", "b"], as_index=False)["w"].min()
    graph = sparse.csr_matrix(
        (edges["w"].to_numpy(), (edges["a"].to_numpy(), edges["b"].to_numpy())), shape=(n, n)
    )
    parts = []
    for s in range(0, n, _CHUNK):
        idx = np.arange(s, min(s + _CHUNK, n))
        dist = csgraph.dijkstra(graph, directed=False, indices=idx, limit=limit_m)
        r, c = np.nonzero(np.isfinite(dist))
        parts.append(pd.DataFrame({"a": idx[r], "b": c, "d": dist[r, c]}))
    return pd.concat(parts, ignore_index=True)


def piece_distances(geoms: np.ndarray, pieces: UnitSet, limit_m: float) -> pd.DataFrame:
    """Return network distances between piece midpoints up to ``limit_m``.

    Returns
    -------
    pandas.DataFrame
        ``p``, ``q`` (piece rows) and ``d`` (metres), both orders, ``p == q`` included.
    """
    u, v, _ = _nodes(geoms)
    length = shapely.length(geoms)
    link = pieces.link
    mid = pieces.offset_m + pieces.length_m / 2
    at_node = pd.DataFrame(
        {
            "node": np.r_[u[link], v[link]],
            "piece": np.r_[np.arange(len(link)), np.arange(len(link))],
            "dist": np.r_[mid, length[link] - mid],
        }
    )
    at_node = at_node[at_node["dist"] <= limit_m]
    nd = node_distances(geoms, limit_m)
    left = nd.merge(at_node, left_on="a", right_on="node")
    left["d"] += left["dist"]
    left = left.loc[left["d"] <= limit_m, ["b", "piece", "d"]]
    both = left.merge(at_node, left_on="b", right_on="node", suffixes=("_p", "_q"))
    both["d"] += both["dist"]
    both = both.loc[both["d"] <= limit_m, ["piece_p", "piece_q", "d"]]
    both.columns = ["p", "q", "d"]
    # along the same segment
    same = pd.DataFrame({"p": np.arange(len(link)), "link": link, "m": mid})
    same = same.merge(same, on="link", suffixes=("", "_2"))
    same = pd.DataFrame({"p": same["p"], "q": same["p_2"], "d": (same["m"] - same["m_2"]).abs()})
    out = pd.concat([both, same[same["d"] <= limit_m]], ignore_index=True)
    return out.groupby(["p", "q"], as_index=False, sort=False)["d"].min()


def piece_kernels(
    geoms: np.ndarray, pieces: UnitSet, bandwidths: tuple[float, ...]
) -> dict[float, sparse.csr_matrix]:
    """Return one Gaussian network-kernel matrix (pieces x pieces) per bandwidth.

    Parameters
    ----------
    geoms
        Segment lines.
    pieces
        The ``pieces`` unit set.
    bandwidths
        Kernel standard deviations, metres.

    Returns
    -------
    dict
        Bandwidth to ``K`` with ``K[p, q] = exp(-d(p, q)**2 / (2 h**2))`` for
        ``d <= TRUNCATE h``, else 0.
    """
    pairs = piece_distances(geoms, pieces, TRUNCATE * max(bandwidths))
    n = len(pieces)
    p, q, d = (pairs[c].to_numpy() for c in ("p", "q", "d"))
    out = {}
    for h in bandwidths:
        keep = d <= TRUNCATE * h
        out[h] = sparse.csr_matrix(
            (np.exp(-0.5 * (d[keep] / h) ** 2), (p[keep], q[keep])), shape=(n, n)
        )
    return out
