# make_selection_tables.R -- model-selection reference tables from mclust
# (BIC and ICL over G = 1..9 and the fourteen covariance models) for kmix's
# tests, and R's timings of mclustBIC for benchmarks.
#
# Usage (from the repository root):
#   Rscript tests/reference/mclust/make_selection_tables.R tests/reference/mclust [data.csv]
# The first argument is the output folder (default "."); selection.json is
# written there. The optional second argument is a CSV file (no header,
# comma-separated, one observation per row) of a further data set whose
# mclustBIC time is measured and stored under "timings" by its file name.
# See README.md next to this file ("Model selection tables") for the schema.
#
# Everything but "timings" (and the machine in "meta") is the same on every
# run: mclust initialises EM with its agglomerative clustering, which is
# deterministic for these data sets (n < mclust.options("subset") = 2000).
# Only the timed CSV data set may be larger than that, in which case mclust
# draws a random subset for hc(); the seed is set before each timed run.

suppressPackageStartupMessages({
  library(mclust)
  library(jsonlite)
})
SEED <- 20261206L
set.seed(SEED)

args <- commandArgs(trailingOnly = TRUE)
out_dir <- if (length(args) >= 1) args[[1]] else "."
csv_path <- if (length(args) >= 2) args[[2]] else NULL
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

# Pin the mclust options that change results (these are mclust 6.0.0's
# defaults), so a user's .Rprofile cannot.
mclust.options(hcUse = "SVD", hcModelName = "VVV", subset = 2000, warn = FALSE)

MODELS <- c("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE",
            "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV")
G_RANGE <- 1:9
G_FIT <- 3L
N_TIMING_RUNS <- 3L

# ---------------------------------------------------------------------------
# JSON output, as in make_tables.R: jsonlite prints at most 15 significant
# digits, which loses bits, so numbers are formatted here and handed to
# jsonlite verbatim.

# Shortest of %.15g / %.16g / %.17g that reads back as the same double
# (%.17g always does); NA becomes null. (make_tables.R's helper; here the
# tables have NA cells, whose "NA" strings read back with a coercion
# warning, hence read_back.)
read_back <- function(s) suppressWarnings(as.double(s))
fmt_num <- function(x) {
  x <- as.double(x)
  if (any(is.infinite(x) | is.nan(x))) stop("non-finite number in output")
  s <- sprintf("%.15g", x)
  for (digits in c(16, 17)) {
    bad <- !is.na(x) & read_back(s) != x
    s[bad] <- sprintf(paste0("%.", digits, "g"), x[bad])
  }
  stopifnot(all(is.na(x) | read_back(s) == x))
  s[is.na(x)] <- "null"
  s
}
verbatim <- function(s) structure(s, class = "json")
json_scalar <- function(x) { stopifnot(length(x) == 1); verbatim(fmt_num(x)) }
json_vector <- function(x) verbatim(paste0("[", paste(fmt_num(x), collapse = ","), "]"))

# Nested JSON arrays in R's index order: value[i][j][k] is a[i, j, k], so
# numpy.asarray(value).shape equals dim(a).
json_array <- function(a) {
  d <- dim(a)
  if (length(d) <= 1) return(json_vector(a))
  lapply(seq_len(d[1]), function(i) {
    s <- do.call(`[`, c(list(a, i), rep(list(TRUE), length(d) - 1), drop = FALSE))
    dim(s) <- if (length(d) > 2) d[-1] else NULL
    json_array(s)
  })
}

write_json_file <- function(obj, name) {
  txt <- toJSON(obj, auto_unbox = TRUE, json_verbatim = TRUE, pretty = TRUE,
                null = "null", na = "null")
  writeLines(txt, file.path(out_dir, name), useBytes = TRUE)
}

# ---------------------------------------------------------------------------
# Tables.

# A criterion table (mclustBIC or mclustICL) as a G x model matrix in the
# order G_RANGE x MODELS, checked.
criterion_matrix <- function(tab) {
  m <- unclass(tab)[as.character(G_RANGE), MODELS, drop = FALSE]
  attributes(m) <- list(dim = dim(m))
  storage.mode(m) <- "double"
  m
}

# The best three as summary() lists them: pickBIC() orders by value
# (decreasing), then G (as a string), then model name; names are "MODEL,G".
top3 <- function(best) {
  lapply(seq_along(best), function(i) {
    parts <- strsplit(names(best)[i], ",", fixed = TRUE)[[1]]
    list(model = parts[1], G = as.integer(parts[2]), value = json_scalar(best[[i]]))
  })
}

# mclust's ICL of a fit (icl.Mclust, also what mclustICL uses for every
# cell): BIC + 2 * sum_i log z[i, c_i], c_i the first column of row i's
# largest z (which.max), a log(0) counted as 0.
icl_formula <- function(bic, z) {
  c_i <- max.col(z, ties.method = "first")
  zc <- z[cbind(seq_len(nrow(z)), c_i)]
  bic + 2 * sum(ifelse(zc > 0, log(zc), 0))
}

params_record <- function(parameters) {
  list(
    pro = json_vector(parameters$pro),
    mean = json_array(t(parameters$mean)),                        # G x d
    sigma = json_array(aperm(parameters$variance$sigma, c(3, 1, 2)))  # G x d x d
  )
}

# One Mclust(X, G = 3, modelNames = m) fit, with the parameters that its z
# and loglik belong to. Mclust (summaryMclustBIC) runs me() from the hc
# partition and then, when sum((pro - colMeans(z))^2) > sqrt(eps) and
# mstep(z) returns code 0, replaces me()'s parameters by that one more
# M-step: the parameters it returns are then one M-step past its loglik and
# z. (The M-steps of VEE, EVE, VVE and VEV always return code 2, even when
# their inner loop converged, so for those Mclust keeps me()'s parameters.) The record's pro/mean/sigma are
# me()'s (so that estep(parameters) gives the fit's z and loglik); Mclust's
# own, when different, are under "mclust_parameters" with their loglik.
fit_record <- function(X, m, bic_tab, icl_tab) {
  fit <- Mclust(X, G = G_FIT, modelNames = m, verbose = FALSE)
  if (is.null(fit)) return(list(error = "Mclust returned NULL (no model could be fitted)"))
  hp <- attr(fit$BIC, "initialization")$hcPairs
  out <- me(data = X, modelName = m, z = unmap(hclass(hp, G_FIT)),
            control = attr(fit$BIC, "control"), warn = FALSE)
  stopifnot(identical(out$loglik, fit$loglik), identical(out$z, fit$z))
  e <- estep(data = X, modelName = m, parameters = out$parameters)
  z_err <- max(abs(e$z - fit$z))
  ll_err <- abs(e$loglik - fit$loglik)
  stopifnot(z_err < 1e-12, ll_err < 1e-9)

  n <- nrow(X); d <- ncol(X)
  bic <- 2 * fit$loglik - fit$df * log(n)
  icl_R <- icl(fit)
  icl_z <- icl_formula(fit$bic, fit$z)
  icl_p <- icl_formula(fit$bic, e$z)
  stopifnot(fit$df == nMclustParams(m, d, G_FIT),
            abs(fit$bic - bic) <= 1e-12 * abs(bic),
            identical(fit$bic, bic_tab[G_FIT, match(m, MODELS)]),
            identical(fit$icl, icl_R),
            identical(fit$icl, icl_tab[G_FIT, match(m, MODELS)]),
            abs(icl_z - icl_R) <= 1e-12 * abs(icl_R),
            abs(icl_p - icl_R) <= 1e-10 * abs(icl_R))

  updated <- !identical(fit$parameters$variance$sigma, out$parameters$variance$sigma) ||
    !identical(fit$parameters$pro, out$parameters$pro) ||
    !identical(fit$parameters$mean, out$parameters$mean)
  cat(sprintf("  %s  loglik %.10g  bic %.10g  icl %.10g | estep(params): z %.1e loglik %.1e icl %.1e | Mclust params updated: %s\n",
              m, fit$loglik, fit$bic, fit$icl, z_err, ll_err, abs(icl_p - icl_R),
              if (updated) "yes" else "no"))

  rec <- c(list(loglik = json_scalar(fit$loglik), n = n, d = d, G = fit$G,
                df = as.integer(fit$df), bic = json_scalar(fit$bic),
                icl = json_scalar(fit$icl)),
           params_record(out$parameters),
           list(parameters_updated = updated))
  if (updated) {
    e2 <- estep(data = X, modelName = m, parameters = fit$parameters)
    rec$mclust_parameters <- c(params_record(fit$parameters),
                               list(loglik = json_scalar(e2$loglik)))
  }
  if (!is.null(attr(out, "WARNING"))) rec$warning <- paste(attr(out, "WARNING"), collapse = "; ")
  rec
}

# Median elapsed seconds of mclustBIC(X, G = 1:9, all fourteen models).
time_bic <- function(X) {
  times <- vapply(seq_len(N_TIMING_RUNS), function(i) {
    set.seed(SEED)
    gc()
    system.time(mclustBIC(X, G = G_RANGE, modelNames = MODELS, verbose = FALSE))[["elapsed"]]
  }, numeric(1))
  cat(sprintf("  mclustBIC times (s): %s -> median %.3f\n",
              paste(sprintf("%.3f", times), collapse = ", "), median(times)))
  round(median(times), 3)   # system.time() counts milliseconds
}

# ---------------------------------------------------------------------------
# Data sets, all shipped with R or mclust (the same as make_tables.R).

data("diabetes", package = "mclust", envir = environment())
DATASETS <- list(
  faithful = list(X = as.matrix(datasets::faithful),
                  source = "datasets::faithful"),
  iris = list(X = as.matrix(datasets::iris[, 1:4]),
              source = "datasets::iris[, 1:4]"),
  diabetes = list(X = as.matrix(diabetes[, c("glucose", "insulin", "sspg")]),
                  source = "mclust::diabetes[, c(\"glucose\", \"insulin\", \"sspg\")]")
)

results <- list()
timings <- list()
for (name in names(DATASETS)) {
  X <- DATASETS[[name]]$X
  storage.mode(X) <- "double"
  dimnames(X) <- list(NULL, colnames(X))
  cat(name, ": n =", nrow(X), " d =", ncol(X), "\n")

  B <- mclustBIC(X, G = G_RANGE, modelNames = MODELS, verbose = FALSE)
  I <- mclustICL(X, G = G_RANGE, modelNames = MODELS, verbose = FALSE)
  bic_tab <- criterion_matrix(B)
  icl_tab <- criterion_matrix(I)
  codes <- attr(B, "returnCodes")[as.character(G_RANGE), MODELS, drop = FALSE]
  stopifnot(identical(is.na(bic_tab), is.na(icl_tab)),
            identical(is.na(bic_tab), unname(codes < 0)),
            identical(icl_tab[1, ], bic_tab[1, ]))   # one component: z = 1
  if (anyNA(bic_tab)) {
    w <- which(is.na(bic_tab), arr.ind = TRUE)
    cat("  NA cells (model G code):", paste(MODELS[w[, 2]], G_RANGE[w[, 1]], codes[w], collapse = "; "), "\n")
  }

  top_bic <- summary(B)
  top_icl <- summary(I)
  print(top_bic); print(top_icl)

  fits <- list()
  for (m in MODELS) fits[[m]] <- fit_record(X, m, bic_tab, icl_tab)

  results[[name]] <- list(
    source = DATASETS[[name]]$source,
    columns = colnames(X),
    n = nrow(X), d = ncol(X),
    bic = json_array(bic_tab),
    icl = json_array(icl_tab),
    bic_codes = lapply(seq_len(nrow(codes)), function(i) as.integer(codes[i, ])),
    top_bic = top3(unclass(top_bic)),
    top_icl = top3(unclass(top_icl)),
    fits_G3 = fits
  )
  timings[[name]] <- json_scalar(time_bic(X))
}

# The optional timed data set.
timed_files <- list()
if (!is.null(csv_path)) {
  X <- as.matrix(read.csv(csv_path, header = FALSE))
  storage.mode(X) <- "double"
  dimnames(X) <- NULL
  stopifnot(!anyNA(X))
  name <- basename(csv_path)
  cat(name, ": n =", nrow(X), " d =", ncol(X), "\n")
  timings[[name]] <- json_scalar(time_bic(X))
  timed_files[[name]] <- list(n = nrow(X), d = ncol(X),
                              md5 = unname(tools::md5sum(csv_path)))
}

meta <- list(
  R = R.version.string,
  mclust = as.character(packageVersion("mclust")),
  jsonlite = as.character(packageVersion("jsonlite")),
  cores = parallel::detectCores(),
  blas = basename(unname(extSoftVersion()["BLAS"])),
  lapack = basename(La_library()),
  timing = sprintf("median elapsed seconds (system.time) of %d runs of mclustBIC(X, G = 1:9, modelNames = <the fourteen>), set.seed(%d) before each",
                   N_TIMING_RUNS, SEED),
  timed_files = if (length(timed_files)) timed_files else structure(list(), names = character(0))
)

write_json_file(list(meta = meta, models = MODELS, G = G_RANGE,
                     datasets = results, timings = timings), "selection.json")
cat("wrote", file.path(out_dir, "selection.json"), "\n")
