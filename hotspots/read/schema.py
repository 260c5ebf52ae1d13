"""Column names of the canonical tables and of every output, defined once.

The canonical crime table is what every reader returns and every later step takes. Output
column lists are the contract of ``hotspots run``: tests assert them exactly.
"""

from __future__ import annotations

__all__ = [
    "AREA_COLUMNS",
    "AREA_LIST_COLUMNS",
    "BASIS_LOCATION",
    "BASIS_STREET",
    "CRIME_COLUMNS",
    "HOT_STREET_COLUMNS",
    "POINT_ID",
    "REJECTED_COLUMNS",
    "SEGMENT_COLUMNS",
    "SNAP_COLUMNS",
    "TYPE_COUNT_PREFIX",
]

#: Canonical crime-event columns (plus ``geometry``), in order.
CRIME_COLUMNS: list[str] = [
    "crime_id",  # the source's id; empty where the source has none (police.uk ASB)
    "source_file",  # file name the row came from
    "source_row",  # 1-based data row in that file (header not counted)
    "month",  # "YYYY-MM" of the start of the window
    "occurred_from",  # start of the time window (datetime64); month start for police.uk
    "occurred_to",  # end of the window (exclusive); month end for police.uk
    "has_time",  # True where the source gives a time of day we trust
    "crime_type",
    "location",  # police.uk "On or near ..." text, VPD hundred block, or empty
    "x",  # metres, in the run's projected CRS
    "y",
]
#: Also added by the readers: ``point_id``, the number of the row's distinct location (rows
#: at one police.uk map point share it), so joins handle each location once.
POINT_ID = "point_id"

#: Columns added by ``assign_areas``.
AREA_COLUMNS: list[str] = ["area_code", "area_name"]

#: Columns added by ``snap_to_streets``.
SNAP_COLUMNS: list[str] = ["segment_id", "snap_distance_m"]

#: Rejected-row table columns.
REJECTED_COLUMNS: list[str] = [
    "source_file",
    "source_row",
    "reason",
    "crime_id",
    "month",
    "crime_type",
    "location",
    "raw_x",
    "raw_y",
    "value",  # the text of the field that caused the rejection, as read
]

#: Street-segment table columns (plus ``geometry``).
SEGMENT_COLUMNS: list[str] = [
    "segment_id",
    "source_id",
    "street_name",
    "name_source",
    "length_m",
    "area_code",
    "area_name",
]

#: Columns every hot street row has, in order (crime-type count columns follow).
HOT_STREET_COLUMNS: list[str] = [
    "rank",
    "rank_by_count",
    "area_rank",
    "street",
    "extent",
    "area_code",
    "area_name",
    "crimes",
    "length_m",
    "crimes_per_100m",
    "segment_count",
    "segment_ids",
    "top_crime_type",
    "name_source",
    "lon",
    "lat",
]

#: Columns of a per-area list (``wards/<area_code>.csv``); crime-type columns follow.
AREA_LIST_COLUMNS: list[str] = [
    "area_rank",
    "basis",
    "rank",
    "street",
    "extent",
    "area_code",
    "area_name",
    "crimes",
    "length_m",
    "crimes_per_100m",
    "segment_count",
    "segment_ids",
    "top_crime_type",
    "lon",
    "lat",
]

#: Values of ``basis`` in per-area lists.
BASIS_STREET = "street segments"
BASIS_LOCATION = "police locations (no street layer here)"

#: Prefix of the per-crime-type count columns, e.g. ``n_burglary``.
TYPE_COUNT_PREFIX = "n_"
