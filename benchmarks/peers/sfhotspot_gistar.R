# R's sfhotspot Gi* on the Vancouver crimes: the peer of target 4 of issue 19.
# hotspot_gistar(cell_size = 100, kde = FALSE): a 100 m grid over the crimes, counts per cell
# and Gi* with its FDR-adjusted p-values (sfhotspot 1.0.0; benchmarks/peers/install_peers.sh).
# Usage: Rscript benchmarks/peers/sfhotspot_gistar.R CRIMES.csv.gz
# Prints one line of JSON: rows, cells, seconds to read and seconds of hotspot_gistar itself.
args <- commandArgs(trailingOnly = TRUE)
t0 <- Sys.time()
suppressPackageStartupMessages({
  library(sf)
  library(sfhotspot)
})
t1 <- Sys.time()
raw <- utils::read.csv(gzfile(args[[1]]))
raw <- raw[!is.na(raw$X) & !is.na(raw$Y) & (raw$X != 0 | raw$Y != 0), ]
crimes <- sf::st_as_sf(raw, coords = c("X", "Y"), crs = 26910)  # VPD X/Y: UTM zone 10N
t2 <- Sys.time()
gi <- hotspot_gistar(crimes, cell_size = 100, kde = FALSE, quiet = TRUE)
t3 <- Sys.time()
secs <- function(a, b) round(as.numeric(difftime(b, a, units = "secs")), 3)
cat(sprintf(
  '{"rows": %d, "cells": %d, "hot_cells": %d, "imports_seconds": %s, "read_seconds": %s, "gistar_seconds": %s}\n',
  nrow(crimes), nrow(gi), sum(gi$gistar > 0 & gi$pvalue < 0.05), secs(t0, t1), secs(t1, t2),
  secs(t2, t3)
))
