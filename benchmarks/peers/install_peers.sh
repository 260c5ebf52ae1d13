#!/bin/sh
# Install the peers the whole-run benchmark times against (run as root; `make bench-peers`):
#   * R and sfhotspot 1.0.0 (Gi*, the R package crime analysts use most), from Debian's R and
#     the source tarballs in ../shared/peers (CRAN is not reachable from these machines; see
#     ../shared/peers/SOURCES.md). r-cran-progress is needed by SpatialKDE though the
#     SOURCES.md install line leaves it out.
#   * hexseg (PyPI), the closest Python peer, into this project's .venv through the `bench`
#     dependency group of pyproject.toml (not a runtime dependency of hotspots).
# Each step is skipped when already done, so running it again is quick.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
peers=${PEERS:-$root/../shared/peers}
venv=${VENV:-$root/.venv}

if ! Rscript -e 'quit(status = !all(c("sfhotspot", "SpatialKDE") %in% rownames(installed.packages())))' \
    >/dev/null 2>&1; then
  if ! command -v Rscript >/dev/null 2>&1 || ! Rscript -e 'library(sf); library(spdep)' >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      r-base-core r-base-dev r-cran-sf r-cran-spdep r-cran-cli r-cran-ggplot2 r-cran-rlang \
      r-cran-tibble r-cran-lubridate r-cran-dplyr r-cran-glue r-cran-magrittr r-cran-vctrs \
      r-cran-raster r-cran-progress
  fi
  (cd "$peers" && sha256sum -c - <<SUMS
9b19252535a01649aa2ca3dfe187452d566224229eb5020f3b969133adcbc061  sfhotspot_1.0.0.tar.gz
eed458de9e89be3ffa49ff2a76b1c5dc2df73936d11b65e6aaa0c73f89325563  SpatialKDE_0.8.2.tar.gz
SUMS
  )
  R CMD INSTALL "$peers/SpatialKDE_0.8.2.tar.gz"
  R CMD INSTALL "$peers/sfhotspot_1.0.0.tar.gz"
fi
Rscript -e 'cat("sfhotspot", format(packageVersion("sfhotspot")), "\n")'

if ! "$venv/bin/python" -c "import hexseg" >/dev/null 2>&1; then
  (cd "$root" && "$venv/bin/pip" install -q --group bench)
fi
"$venv/bin/python" -c "import importlib.metadata as m; print('hexseg', m.version('hexseg'))"
