/*
 * inputs.h — the local inputs of one logged run, read and checked in full
 * before ml-mlflow-log sends anything (so that a bad file never leaves a
 * half-logged run behind): params TSV, losses TSV, K=V options, artifact
 * paths. Every failure is EX_DATAERR (or EX_NOINPUT for a missing file)
 * naming file and line.
 *
 * Ownership: a kvlist owns its keys and values; a steplist owns its keys;
 * both are released by their *_free (safe on zeroed values).
 */
#ifndef ML_MLFLOW_LOG_INPUTS_H
#define ML_MLFLOW_LOG_INPUTS_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "mlflow.h"

#define INPUT_FILE_MAX ((size_t)64 << 20)
#define LOSSES_MAX 1000000

typedef struct kvlist {
	mlflow_kv *items; /* key and value are owned (cast away const to free) */
	size_t n, cap;
} kvlist;

typedef struct steplist {
	mlflow_metric *items; /* key owned */
	size_t n, cap;
} steplist;

/* Adds or (replace != 0) replaces key; without replace a repeated key is an
 * error naming where ("params.tsv:3"). Checks the key with MLflow's rules and
 * the value's length against max_value. */
int kvlist_put(kvlist *l, const char *key, const char *value, size_t max_value, int replace,
	       const char *where, lf_error *err);
/* "K=V" (V may be empty, K may not). */
int kvlist_put_arg(kvlist *l, const char *arg, size_t max_value, const char *opt, lf_error *err);
const char *kvlist_get(const kvlist *l, const char *key);
void kvlist_free(kvlist *l);

/* params TSV: name \t value per line. */
int params_parse(const char *buf, size_t len, const char *name, kvlist *out, lf_error *err);
/* losses TSV: step \t name \t value per line (names mapped by metric_key);
 * every entry gets timestamp_ms. */
int losses_parse(const char *buf, size_t len, const char *name, int64_t timestamp_ms, steplist *out,
		 lf_error *err);
/* Appends a copy of key; -1 on allocation failure. */
int steplist_push(steplist *l, const char *key, double value, int64_t step, int64_t ts_ms);
void steplist_free(steplist *l);

/* A file that must be read whole: EX_NOINPUT when missing, EX_DATAERR when
 * not a regular file or bigger than max. */
int file_read(const char *path, size_t max, unsigned char **buf, size_t *len, lf_error *err);
/* A regular readable file, checked without reading it. */
int file_check(const char *path, lf_error *err);

#endif
