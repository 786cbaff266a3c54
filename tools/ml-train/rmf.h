/*
 * rmf.h — the rating head: biased matrix factorisation
 *
 *   r(u, i) = mean + bu_u + bi_i + x_u . y_i
 *
 * fitted by minibatch Adam on the squared error plus l2 * (|x_u|^2 + |y_i|^2
 * + bu_u^2 + bi_i^2) per rating (the Python package's "mf" head). Only
 * used for RMSE; the ranking comes from the softmax MF.
 *
 * Ownership: rmf_model owns one block that X starts and Y, bu, bi point
 * into; rmf_free releases it.
 */
#ifndef LENSFLOW_TRAIN_RMF_H
#define LENSFLOW_TRAIN_RMF_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "log.h"
#include "smf.h"

typedef struct rmf_params {
	size_t dim;
	double lr, l2;
	size_t batch; /* ratings per step */
	int patience;
	uint64_t seed;
} rmf_params;

typedef struct rmf_model {
	size_t n_users, n_items, dim;
	double mean;
	float *X, *Y;   /* n_users x dim, n_items x dim */
	float *bu, *bi; /* n_users, n_items */
} rmf_model;

typedef struct rmf_run {
	int max_epochs;
	const csr *val;    /* NULL: exactly max_epochs epochs */
	const char *stage;
	epoch_fn cb;       /* loss = the epoch's mean squared error; val = RMSE */
	void *ctx;
	int chosen;        /* out */
	double best_val;   /* out: val RMSE of the chosen epoch (NaN without val) */
} rmf_run;

int rmf_train(const csr *train, size_t n_items, const rmf_params *p, rmf_run *run,
	      rmf_model *out, lf_error *err);
/* Prediction, clipped to 1..5. */
double rmf_predict(const rmf_model *m, size_t u, size_t i);
/* RMSE over every rating of val. */
double rmf_rmse(const rmf_model *m, const csr *val);
void rmf_free(rmf_model *m);

#endif
