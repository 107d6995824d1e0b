# make_tables.R -- reference tables from mclust for kmix's Gaussian-mixture tests.
#
# Usage (from the repository root):
#   Rscript make_tables.R tests/reference/mclust
# The only argument is the output folder (default "."). See README.md next to
# this file for what is written and the exact JSON schema.
#
# Nothing here is random: the starting responsibilities come from mclust's
# agglomerative clustering (deterministic), and every fit starts from them.
# set.seed() below is only a guard in case some mclust default ever samples.

suppressPackageStartupMessages({
  library(mclust)
  library(jsonlite)
})
set.seed(20240101)

args <- commandArgs(trailingOnly = TRUE)
out_dir <- if (length(args) >= 1) args[[1]] else "."
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

# Pin the mclust options that change results, so a user's .Rprofile cannot.
mclust.options(hcUse = "SVD", hcModelName = "VVV", subset = 2000, warn = FALSE)

MODELS <- c("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE",
            "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV")
G <- 3L
ITMAX <- 100000L
OUTER_TOL <- 1e-10        # the brief's outer tolerance for "converged"
TIGHT_OUTER_TOL <- 1e-14  # "converged_tight": close to the actual fixed point

# Inner (M-step) loop of the models whose M-step is iterative. mclust stops
# the inner loop of VEI and VEV on the relative change of the parameters, so
# tolerance 1e-13 leaves them converged to ~1e-14. VEE, EVE and VVE stop on
# the relative change of an objective that is flat at the optimum: 1e-13
# leaves sigma wrong by up to 1e-7, and even tolerance 0 (stop when the
# objective repeats exactly) by up to 4e-9, while in me() it can cycle to
# the iteration limit. So for those three the inner loop runs a fixed
# FIXED_INNER iterations (tolerance -1, which emControl() refuses but the
# Fortran code honours: its test is "error > tol"); 500 already reach the
# fixed point to ~1e-15, so 2000 is ample. mclust then reports
# "inner iteration limit reached", which is expected and dropped below.
FIXED_INNER_MODELS <- c("VEE", "EVE", "VVE")
FIXED_INNER <- 2000L
INNER_TOL <- 1e-13

ctrl <- function(m, outer_tol = OUTER_TOL, outer_itmax = ITMAX) {
  control <- emControl(tol = c(outer_tol, INNER_TOL), itmax = c(outer_itmax, ITMAX))
  if (m %in% FIXED_INNER_MODELS) {
    control$tol[2] <- -1
    control$itmax[2] <- FIXED_INNER
  }
  control
}

# ---------------------------------------------------------------------------
# JSON output. jsonlite prints at most 15 significant digits, which loses
# bits, so numbers are formatted here and handed to jsonlite verbatim.

# Shortest of %.15g / %.16g / %.17g that reads back as the same double
# (%.17g always does); NA becomes null.
fmt_num <- function(x) {
  x <- as.double(x)
  if (any(is.infinite(x) | is.nan(x))) stop("non-finite number in output")
  s <- sprintf("%.15g", x)
  for (digits in c(16, 17)) {
    bad <- !is.na(x) & as.double(s) != x
    s[bad] <- sprintf(paste0("%.", digits, "g"), x[bad])
  }
  stopifnot(all(is.na(x) | as.double(s) == x))
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

# A parameter as R has it: its R dimensions (dim(), or length(); [] for a
# length-1 vector) and its value nested in R's index order.
json_r_value <- function(x) {
  r_dim <- if (!is.null(dim(x))) dim(x) else if (length(x) == 1) integer(0) else length(x)
  list(r_dim = verbatim(paste0("[", paste(as.integer(r_dim), collapse = ","), "]")),
       value = if (length(r_dim) == 0) json_scalar(x) else json_array(array(x, r_dim)))
}

write_json_file <- function(obj, name) {
  txt <- toJSON(obj, auto_unbox = TRUE, json_verbatim = TRUE, pretty = TRUE,
                null = "null", na = "null")
  writeLines(txt, file.path(out_dir, name), useBytes = TRUE)
}

# ---------------------------------------------------------------------------
# Running mclust and turning its results into records.

# Evaluate expr, collecting R warnings; an R error becomes list(r_error = msg).
capture <- function(expr) {
  warnings <- character(0)
  value <- withCallingHandlers(
    tryCatch(expr, error = function(e) list(r_error = conditionMessage(e))),
    warning = function(w) {
      warnings <<- c(warnings, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  list(value = value, warnings = warnings)
}

is_r_error <- function(cap) is.list(cap$value) && !is.null(cap$value$r_error)

# mclust's own problems are in attr(, "WARNING") (it only calls warning()
# when mclust.options("warn") is TRUE). The inner limit is expected where
# the inner loop runs a fixed number of iterations (see ctrl()).
mclust_messages <- function(m, ...) {
  msgs <- unlist(lapply(list(...), function(o) attr(o, "WARNING")))
  msgs <- unique(as.character(msgs))
  if (m %in% FIXED_INNER_MODELS) msgs <- setdiff(msgs, "inner iteration limit reached")
  msgs
}

# attr(, "info") is c(iterations, error) under model-dependent names
# (niterout/errout, iteration/error, a list for EVV); take it by position.
# mclust negates the count when it hit the limit; "stop" says which rule
# ended the loop.
info_pair <- function(info, fixed_count = FALSE) {
  if (is.null(info)) return(NULL)
  v <- unlist(info)
  list(iterations = abs(as.integer(v[[1]])),
       final_rel_change = json_scalar(v[[2]]),
       stop = if (fixed_count) "fixed count" else if (v[[1]] < 0) "iteration limit" else "tolerance")
}
inner_pair <- function(info, m) info_pair(info, m %in% FIXED_INNER_MODELS)

# pro, mean (G x d), sigma (G x d x d), loglik and the decomposition.
param_record <- function(parameters, loglik) {
  v <- parameters$variance
  decomposition <- v[setdiff(names(v), c("modelName", "d", "G", "sigma"))]
  list(
    pro = json_vector(parameters$pro),
    mean = json_array(t(parameters$mean)),
    sigma = json_array(aperm(v$sigma, c(3, 1, 2))),
    loglik = json_scalar(loglik),
    variance = lapply(decomposition, json_r_value)
  )
}

has_na <- function(parameters, loglik) {
  anyNA(parameters$pro) || anyNA(parameters$mean) ||
    anyNA(parameters$variance$sigma) || is.null(loglik) || anyNA(loglik)
}

# A record, or list(error = ...) when R failed or mclust returned NA.
make_record <- function(cap, build) {
  if (is_r_error(cap)) return(list(error = cap$value$r_error))
  rec <- build(cap$value)
  msgs <- unique(c(attr(rec, "messages"), cap$warnings))
  attr(rec, "messages") <- NULL
  if (isTRUE(attr(rec, "failed"))) {
    return(list(error = if (length(msgs)) paste(msgs, collapse = "; ") else "mclust returned NA"))
  }
  attributes(rec) <- list(names = names(rec))
  if (length(msgs)) rec$warning <- paste(msgs, collapse = "; ")
  rec
}

fail <- function(messages) structure(list(), failed = TRUE, messages = messages)

fit_model <- function(X, z0, m) {
  # mstep(z0); its log-likelihood by estep, whose z is z1 for the next step.
  ms0 <- NULL; e0 <- NULL
  mstep_rec <- make_record(capture({
    ms0 <- mstep(data = X, modelName = m, z = z0, control = ctrl(m))
    e0 <- estep(data = X, modelName = m, parameters = ms0$parameters)
    list(ms = ms0, e = e0)
  }), function(r) {
    msgs <- mclust_messages(m, r$ms, r$e)
    if (has_na(r$ms$parameters, r$e$loglik)) return(fail(msgs))
    rec <- param_record(r$ms$parameters, r$e$loglik)
    inner <- inner_pair(attr(r$ms, "info"), m)
    if (!is.null(inner)) rec$inner <- inner
    structure(rec, messages = msgs)
  })

  # One EM step: mstep(z0) -> estep -> mstep(z1); loglik of the new parameters.
  one_rec <- if (!is.null(mstep_rec$error) || is.null(e0)) {
    list(error = "no mstep parameters to start from")
  } else make_record(capture({
    ms1 <- mstep(data = X, modelName = m, z = e0$z, control = ctrl(m))
    e1 <- estep(data = X, modelName = m, parameters = ms1$parameters)
    list(ms = ms1, e = e1)
  }), function(r) {
    msgs <- mclust_messages(m, r$ms, r$e)
    if (has_na(r$ms$parameters, r$e$loglik)) return(fail(msgs))
    rec <- param_record(r$ms$parameters, r$e$loglik)
    rec$loglik_before <- json_scalar(e0$loglik)
    inner <- inner_pair(attr(r$ms, "info"), m)
    if (!is.null(inner)) rec$inner <- inner
    structure(rec, messages = msgs)
  })

  # EM from z0 to convergence, as mclust's me() runs it.
  run_me <- function(outer_tol) make_record(capture(
    me(data = X, modelName = m, z = z0, control = ctrl(m, outer_tol))
  ), function(r) {
    msgs <- mclust_messages(m, r)
    if (has_na(r$parameters, r$loglik)) return(fail(msgs))
    rec <- param_record(r$parameters, r$loglik)
    info <- attr(r, "info")
    outer <- info_pair(info)
    rec$iterations <- outer$iterations
    rec$final_rel_change <- outer$final_rel_change
    rec$outer_tol <- json_scalar(outer_tol)
    inner <- inner_pair(attr(info, "inner"), m)
    if (!is.null(inner)) rec$inner <- inner
    structure(rec, messages = msgs)
  })

  list(mstep = mstep_rec, one_step = one_rec,
       converged = run_me(OUTER_TOL), converged_tight = run_me(TIGHT_OUTER_TOL))
}

# Cross-checks printed to the console (not stored): me() with itmax 1 and 2
# must agree with the explicit mstep / one_step sequence.
cross_check <- function(X, z0, m, rec) {
  if (!is.null(rec$mstep$error) || !is.null(rec$one_step$error)) return(invisible())
  ms0 <- mstep(X, m, z0, control = ctrl(m))
  e0 <- estep(X, m, parameters = ms0$parameters)
  ms1 <- mstep(X, m, e0$z, control = ctrl(m))
  e1 <- estep(X, m, parameters = ms1$parameters)
  rel <- function(a, b) max(abs(a - b)) / max(abs(b))
  me1 <- me(X, m, z0, control = ctrl(m, OUTER_TOL, 1L))
  me2 <- me(X, m, z0, control = ctrl(m, OUTER_TOL, 2L))
  cat(sprintf("  %s  me(itmax 1) vs mstep: sigma %.1e loglik %.1e | me(itmax 2) vs one_step: sigma %.1e loglik %.1e\n",
              m, rel(me1$parameters$variance$sigma, ms0$parameters$variance$sigma),
              abs(me1$loglik - e0$loglik),
              rel(me2$parameters$variance$sigma, ms1$parameters$variance$sigma),
              abs(me2$loglik - e1$loglik)))
}

# ---------------------------------------------------------------------------
# Data sets, all shipped with R or mclust.

data("diabetes", package = "mclust", envir = environment())
DATASETS <- list(
  faithful = list(X = as.matrix(datasets::faithful),
                  source = "datasets::faithful"),
  iris = list(X = as.matrix(datasets::iris[, 1:4]),
              source = "datasets::iris[, 1:4]"),
  diabetes = list(X = as.matrix(diabetes[, c("glucose", "insulin", "sspg")]),
                  source = "mclust::diabetes[, c(\"glucose\", \"insulin\", \"sspg\")]")
)

meta <- list(
  R = R.version.string,
  mclust = as.character(packageVersion("mclust")),
  jsonlite = as.character(packageVersion("jsonlite"))
)

for (name in names(DATASETS)) {
  X <- DATASETS[[name]]$X
  storage.mode(X) <- "double"
  dimnames(X) <- list(NULL, colnames(X))

  # Soft start from the hierarchical clustering (model-based, VVV, on the
  # raw variables): 0.8 on the hc class and 0.2/3 everywhere, so no
  # component is empty and every model can be estimated.
  hc_class <- as.vector(hclass(hc(X, modelName = "VVV", use = "VARS"), G))
  z0 <- 0.8 * unmap(hc_class, groups = seq_len(G)) + 0.2 / G
  dimnames(z0) <- NULL

  cat(name, ": n =", nrow(X), " d =", ncol(X), " hc class sizes =",
      tabulate(hc_class, G), "\n")
  models <- list()
  for (m in MODELS) {
    models[[m]] <- fit_model(X, z0, m)
    cross_check(X, z0, m, models[[m]])
  }

  write_json_file(list(
    meta = meta,
    dataset = name,
    source = DATASETS[[name]]$source,
    columns = colnames(X),
    n = nrow(X), d = ncol(X), G = G,
    data = json_array(X),
    hc_class = as.integer(hc_class),
    z_recipe = "0.8 * unmap(hclass(hc(data, modelName = \"VVV\", use = \"VARS\"), 3)) + 0.2 / 3",
    z = json_array(z0),
    control = list(
      outer_tol = json_scalar(OUTER_TOL),
      tight_outer_tol = json_scalar(TIGHT_OUTER_TOL),
      inner_tol = json_scalar(INNER_TOL),
      itmax = c(ITMAX, ITMAX),
      fixed_inner_models = FIXED_INNER_MODELS,
      fixed_inner_iterations = FIXED_INNER
    ),
    models = models
  ), paste0(name, ".json"))
}

# ---------------------------------------------------------------------------
# Number of free parameters, nMclustParams(modelName, d, G) with defaults
# (noise = FALSE, equalPro = FALSE). nparams[[model]][d][G], null if R fails.

D_RANGE <- 1:6
G_RANGE <- 1:9
np_errors <- list()
nparams_value <- function(m, d, g) {
  r <- tryCatch(nMclustParams(m, d, g), error = function(e) e, warning = function(w) w)
  if (inherits(r, "condition") || length(r) != 1 || is.na(r)) {
    np_errors[[sprintf("%s d=%d G=%d", m, d, g)]] <<-
      if (inherits(r, "condition")) conditionMessage(r) else "NA"
    return(NA_real_)
  }
  r
}
nparams <- lapply(setNames(MODELS, MODELS), function(m)
  lapply(D_RANGE, function(d) json_vector(sapply(G_RANGE, function(g) nparams_value(m, d, g)))))
univariate <- lapply(setNames(c("E", "V"), c("E", "V")), function(m)
  json_vector(sapply(G_RANGE, function(g) nparams_value(m, 1L, g))))
write_json_file(list(
  meta = meta, d = D_RANGE, G = G_RANGE,
  nparams = nparams, univariate_d1 = univariate,
  errors = if (length(np_errors)) np_errors else structure(list(), names = character(0))
), "nparams.json")

# ---------------------------------------------------------------------------
# BIC tables with mclust's defaults (its own hc initialisation, default
# emControl): larger is better, BIC = 2 loglik - nparams log(n).

bic <- list()
for (name in names(DATASETS)) {
  X <- DATASETS[[name]]$X
  cap <- capture(mclustBIC(X, G = 1:4, modelNames = MODELS, verbose = FALSE))
  if (is_r_error(cap)) {
    bic[[name]] <- list(error = cap$value$r_error)
    next
  }
  b <- cap$value
  rc <- attr(b, "returnCodes")
  bic[[name]] <- list(
    G = as.integer(rownames(b)),
    bic = lapply(setNames(MODELS, MODELS), function(m) json_vector(unclass(b)[, m])),
    return_codes = lapply(setNames(MODELS, MODELS), function(m) as.integer(rc[, m]))
  )
  if (length(cap$warnings)) bic[[name]]$warning <- paste(unique(cap$warnings), collapse = "; ")
}
write_json_file(list(meta = meta, models = MODELS, datasets = bic), "bic.json")

cat("wrote", file.path(out_dir, c(paste0(names(DATASETS), ".json"), "nparams.json", "bic.json")), sep = "\n  ")
