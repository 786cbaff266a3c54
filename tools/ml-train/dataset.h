/*
 * dataset.h — train ratings as ml-train needs them: external user and movie
 * ids mapped to dense rows (ascending id order, so "lower row" is "lower
 * id"), each user's ratings as one row of a CSR matrix (items ascending), and
 * the per-user validation holdout carved from it.
 *
 * Ownership: a dataset owns its id arrays and its csr; a csr owns its arrays.
 * dataset_free / csr_free release them (safe on zeroed structs).
 */
#ifndef LENSFLOW_TRAIN_DATASET_H
#define LENSFLOW_TRAIN_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "tsv.h"

typedef struct csr {
	size_t n_rows, n;
	size_t *start; /* n_rows + 1: row r holds [start[r], start[r+1]) */
	int32_t *col;  /* n: item rows, ascending within a row */
	float *val;    /* n: the ratings (1..5) */
} csr;

typedef struct dataset {
	size_t n_users, n_items;
	int32_t *user_ids; /* n_users external ids, ascending */
	int32_t *item_ids; /* n_items external ids, ascending */
	csr all;	   /* users x items, every train rating */
} dataset;

/* Builds the id maps and the matrix. EX_DATAERR on empty input (the reader
 * already rejects it; kept for callers that build ratings themselves),
 * EX_SOFTWARE on allocation failure. */
int dataset_build(const ratings *r, dataset *d, lf_error *err);
void dataset_free(dataset *d);

/* Per user, a seeded shuffle keeps round(ratio * n) ratings (half to even,
 * as numpy and Microsoft `recommenders` round) in fit and the rest in val;
 * users are visited in row order from one generator, so the same seed gives
 * the same split. Both outputs keep items ascending within each row. */
int holdout_split(const csr *all, double ratio, uint64_t seed, csr *fit, csr *val, lf_error *err);
void csr_free(csr *m);

#endif
