/*
 * ials.h — implicit-feedback ALS (Hu, Koren & Volinsky 2008): every
 * (user, movie) pair is a target, 1 where rated with confidence 1 + alpha,
 * 0 elsewhere with confidence 1, and
 *
 *   minimise  sum_{u,i} c_ui (x_ui - p_u . q_i)^2 + reg (|P|^2 + |Q|^2)
 *
 * by alternating exact least squares: with Q fixed each p_u solves
 * (Q^T Q + alpha Q_u^T Q_u + reg I) p_u = (1 + alpha) Q_u^T 1, Q_u the rows
 * of the movies u rated (Q^T Q once per half-sweep, the rest per user with
 * ssyrk and LAPACK's Cholesky), then the same for the movies. Score = p_u . q_i.
 *
 * Ownership: ials_model owns P and Q; ials_free releases them.
 */
#ifndef LENSFLOW_TRAIN_IALS_H
#define LENSFLOW_TRAIN_IALS_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "log.h"

typedef struct ials_params {
	size_t dim;
	double alpha; /* confidence of a rated pair is 1 + alpha */
	double reg;   /* L2 on every vector */
	int iters;    /* alternating sweeps (users then movies) */
	int cg_steps; /* > 0: that many CG steps per row, warm-started (ials_cg.c); 0: Cholesky */
	int threads;  /* for the CG half-sweeps (the bytes do not depend on it) */
	uint64_t seed;
} ials_params;

typedef struct ials_model {
	size_t n_users, n_items, dim;
	float *P; /* n_users x dim */
	float *Q; /* n_items x dim */
} ials_model;

int ials_fit(const csr *X, size_t n_items, const ials_params *p, ials_model *out, lf_error *err);
/* One half-sweep by CG: every row of A (R's rows) given B (nb rows); G (d x d)
 * scratch for B^T B + reg I. */
int ials_cg_half_sweep(const csr *R, float *A, const float *B, size_t nb, size_t d,
		       const ials_params *p, int threads, float *G, lf_error *err);
void ials_free(ials_model *m);

#endif
