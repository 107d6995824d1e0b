# Reference values for kmix's gap statistic from R's cluster package (clusGap).
#
#   Rscript tests/reference/cluster/make_gap_tables.R tests/reference/cluster
#
# Writes gap.json: for each example, the data, clusGap's table (log W, E log W*,
# gap, SE.sim) and the k that maxSE(method = "Tibs2001SEmax") chooses, the
# one-standard-error rule of Tibshirani, Walther and Hastie (2001). The data sets
# follow the examples of ?clusGap, drawn with fixed seeds; the reference sets are
# clusGap's own random draws (B = 100), so kmix compares the choice of k, not the
# gap values, which depend on the draws.
suppressMessages(library(cluster))
library(jsonlite)
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args) >= 1) args[1] else "."

examples <- list()
set.seed(1)
# ?clusGap's first example: three groups of 10, 15 and 5 points.
examples$three_groups <- rbind(cbind(rnorm(10, 0, 0.5), rnorm(10, 0, 0.5)),
                               cbind(rnorm(15, 5, 0.5), rnorm(15, 5, 0.5)),
                               cbind(rnorm(5, 3, 0.5), rnorm(5, 3, 0.5)))
set.seed(2)
# Four well-separated groups in three dimensions.
centres <- rbind(c(0, 0, 0), c(6, 0, 0), c(0, 6, 0), c(0, 0, 6))
examples$four_groups <- do.call(rbind, lapply(1:4, function(j) {
  sweep(matrix(rnorm(40 * 3, 0, 0.7), ncol = 3), 2, centres[j, ], "+")
}))
set.seed(3)
# No structure: uniform on the unit square.
examples$uniform <- matrix(runif(200), ncol = 2)
set.seed(4)
# ?clusGap's second setting: the ruspini data shipped with cluster (four groups).
examples$ruspini <- as.matrix(ruspini)

result <- list(meta = list(R = R.version.string, cluster = as.character(packageVersion("cluster")),
                           method = "Tibs2001SEmax", B = 100, K.max = 8, d.power = 1,
                           spaceH0 = "scaledPCA and original"))
for (name in names(examples)) {
  x <- examples[[name]]
  entry <- list(data = unname(split(x, row(x))))
  for (space in c("original", "scaledPCA")) {
    set.seed(10)
    gap <- clusGap(x, FUNcluster = function(x, k) kmeans(x, k, nstart = 20, iter.max = 50),
                   K.max = 8, B = 100, spaceH0 = space, verbose = FALSE)
    tab <- gap$Tab
    entry[[space]] <- list(logW = tab[, "logW"], E.logW = tab[, "E.logW"], gap = tab[, "gap"],
                           SE.sim = tab[, "SE.sim"],
                           k = maxSE(tab[, "gap"], tab[, "SE.sim"], method = "Tibs2001SEmax"))
  }
  result$examples[[name]] <- entry
}
write_json(result, file.path(out, "gap.json"), digits = NA, auto_unbox = TRUE, pretty = FALSE)
cat("wrote", file.path(out, "gap.json"), "\n")
for (name in names(result$examples)) {
  cat(name, ": k =", result$examples[[name]]$original$k, "(original),",
      result$examples[[name]]$scaledPCA$k, "(scaledPCA)\n")
}
