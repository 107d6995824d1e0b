# make_hc_tables.R -- reference tables from mclust's model-based agglomerative
# hierarchical clustering, hc(), for kmix's tests of
# kmix.kernels.hierarchical.
#
# Usage (from the repository root):
#   Rscript tests/reference/mclust/make_hc_tables.R tests/reference/mclust
# The only argument is the output folder (default "."); hc.json is written
# there. See README.md next to this file ("Hierarchical clustering tables")
# for the schema. Nothing here is random: hc() with these settings starts
# from singletons and is deterministic.

suppressPackageStartupMessages({
  library(mclust)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
out_dir <- if (length(args) >= 1) args[[1]] else "."
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

# Pin the mclust options that change results (mclust 6.0.0's defaults).
mclust.options(hcUse = "SVD", hcModelName = "VVV", subset = 2000, warn = FALSE)

MODELS <- c("VVV", "EII")
USES <- c("VARS", "SVD")
G_RANGE <- 1:9

# ---------------------------------------------------------------------------
# JSON output, as in make_tables.R (whose helper this is): jsonlite prints at
# most 15 significant digits, which loses bits, so numbers are formatted here
# (shortest of %.15g / %.16g / %.17g that reads back as the same double) and
# handed to jsonlite verbatim. Integers go to jsonlite directly.
fmt_num <- function(x) {
  x <- as.double(x)
  if (any(!is.finite(x))) stop("non-finite number in output")
  s <- sprintf("%.15g", x)
  for (digits in c(16, 17)) {
    bad <- as.double(s) != x
    s[bad] <- sprintf(paste0("%.", digits, "g"), x[bad])
  }
  stopifnot(all(as.double(s) == x))
  s
}
verbatim <- function(s) structure(s, class = "json")
json_scalar <- function(x) { stopifnot(length(x) == 1); verbatim(fmt_num(x)) }
json_vector <- function(x) verbatim(paste0("[", paste(fmt_num(x), collapse = ","), "]"))
json_matrix <- function(a) lapply(seq_len(nrow(a)), function(i) json_vector(a[i, ]))

# Integer matrix as a list of rows (numpy.asarray gives nrow x ncol).
int_rows <- function(a) {
  storage.mode(a) <- "integer"
  lapply(seq_len(nrow(a)), function(i) verbatim(paste0("[", paste(a[i, ], collapse = ","), "]")))
}

write_json_file <- function(obj, name) {
  txt <- toJSON(obj, auto_unbox = TRUE, json_verbatim = TRUE, pretty = TRUE)
  writeLines(txt, file.path(out_dir, name), useBytes = TRUE)
}

# ---------------------------------------------------------------------------
# The merge costs. hc() drops them, so the Fortran routine is called here
# exactly as hcVVV() / hcEII() call it (mclust 6.0.0), and its merges are
# checked to be hc()'s. The cost of a merge is the change in the criterion
# (the last array the Fortran routine returns, first m entries).
fortran_costs <- function(Z, model, partition, minclus, tree) {
  n <- nrow(Z); p <- ncol(Z)
  storage.mode(Z) <- "double"
  dimnames(Z) <- NULL
  partition <- mclust:::partconv(partition, consec = TRUE)
  l <- length(unique(partition))
  m <- l - minclus
  if (model == "VVV") {
    ll <- (l * (l - 1)) / 2
    ld <- max(n, ll + 1, 3 * m)
    alpha <- max(1 * mclust:::traceW(Z / sqrt(n * p)), .Machine$double.eps)
    out <- .Fortran("hcvvv", cbind(Z, 0), as.integer(n), as.integer(p),
                    as.integer(partition), as.integer(l), as.integer(m),
                    as.double(alpha), as.double(1), double(p), double(p * p),
                    double(p * p), double(p * p), as.integer(ld), double(ld),
                    PACKAGE = "mclust")[c(1, 14)]
  } else {
    ld <- max(c((l * (l - 1)) / 2, 3 * m))
    out <- .Fortran("hceii", Z, as.integer(n), as.integer(p),
                    as.integer(partition), as.integer(l), as.integer(m),
                    double(p), as.integer(ld), double(ld),
                    PACKAGE = "mclust")[c(1, 9)]
    alpha <- NA
  }
  merges <- out[[1]][seq_len(m), 1:2, drop = FALSE]
  stopifnot(all(t(merges) == unclass(tree)[1:2, , drop = FALSE]))
  list(costs = out[[2]][seq_len(m)], alpha = alpha)
}

# One hc() run as a record: merges (m x 2, mclust's labels, 1-based),
# hclass() partitions, merge costs.
hc_record <- function(Z, model, tree, partition, minclus, G) {
  fc <- fortran_costs(Z, model, partition, minclus, tree)
  rec <- list(
    merges = int_rows(t(unclass(tree)[1:2, , drop = FALSE])),
    costs = json_vector(fc$costs),
    G = as.integer(G),
    classes = int_rows(hclass(tree, G))
  )
  if (model == "VVV") rec$alpha_scaled <- json_scalar(fc$alpha)
  rec
}

# ---------------------------------------------------------------------------
# Data sets, as in make_tables.R.

data("diabetes", package = "mclust", envir = environment())
DATASETS <- list(
  faithful = list(X = as.matrix(datasets::faithful),
                  source = "datasets::faithful"),
  iris = list(X = as.matrix(datasets::iris[, 1:4]),
              source = "datasets::iris[, 1:4]"),
  diabetes = list(X = as.matrix(diabetes[, c("glucose", "insulin", "sspg")]),
                  source = "mclust::diabetes[, c(\"glucose\", \"insulin\", \"sspg\")]")
)

out <- list(
  meta = list(R = R.version.string,
              mclust = as.character(packageVersion("mclust")),
              jsonlite = as.character(packageVersion("jsonlite"))),
  models = MODELS, uses = USES, G = G_RANGE,
  datasets = list()
)

for (name in names(DATASETS)) {
  X <- DATASETS[[name]]$X
  storage.mode(X) <- "double"
  dimnames(X) <- list(NULL, colnames(X))
  n <- nrow(X)
  rec <- list(source = DATASETS[[name]]$source, columns = colnames(X),
              n = n, d = ncol(X), data = json_matrix(X))

  # What use = "SVD" does (mclust:::hc, mclust 6.0.0): scale(X) (centred,
  # divided by the n - 1 standard deviations), then Z = Xs V diag(1/sqrt(s))
  # with svd(Xs) = U diag(s) V'. Recomputed here and checked against the
  # data hc() clustered. The signs of V's columns are LAPACK's.
  Xs <- scale(X, center = TRUE, scale = TRUE)
  s <- svd(Xs, nu = 0)
  for (m in MODELS) {
    trees <- list()
    for (u in USES) {
      tree <- hc(X, modelName = m, use = u)
      Z <- attr(tree, "data")
      stopifnot(identical(as.integer(attr(tree, "initialPartition")), seq_len(n)))
      if (u == "SVD") {
        stopifnot(max(abs(Z - Xs %*% s$v %*% diag(1 / sqrt(s$d)))) == 0)
        rec$svd <- list(center = json_vector(attr(Xs, "scaled:center")),
                        scale = json_vector(attr(Xs, "scaled:scale")),
                        singular_values = json_vector(s$d),
                        v = json_matrix(s$v),
                        transformed = json_matrix(Z))
      } else {
        stopifnot(max(abs(Z - X)) == 0)
      }
      trees[[u]] <- hc_record(Z, m, tree, seq_len(n), 1, G_RANGE)
    }
    rec[[m]] <- trees
  }

  cat(name, ": n =", n, " d =", ncol(X), "\n")
  out$datasets[[name]] <- rec
}

# ---------------------------------------------------------------------------
# A start from a partition, down to minclus = 2 groups: iris (raw variables)
# from the 20 groups of its EII tree, for both models.
X <- as.matrix(datasets::iris[, 1:4])
dimnames(X) <- NULL
start <- as.vector(hclass(hc(X, modelName = "EII", use = "VARS"), 20))
partition_runs <- list(dataset = "iris", use = "VARS", minclus = 2L,
                       partition_recipe = "hclass(hc(X, modelName = \"EII\", use = \"VARS\"), 20)",
                       partition = as.integer(start))
for (m in MODELS) {
  tree <- hc(X, modelName = m, use = "VARS", partition = start, minclus = 2)
  stopifnot(identical(as.integer(attr(tree, "initialPartition")),
                      as.integer(mclust:::partconv(start, consec = TRUE))))
  partition_runs[[m]] <- hc_record(X, m, tree, start, 2, 2:20)
}
out$partition_start <- partition_runs

write_json_file(out, "hc.json")
cat("wrote", file.path(out_dir, "hc.json"), "\n")
