/*
 * foldin.h — a new user's vector from the movies they rated, by solving the
 * training objective of softmax-MF for that one user (the "fold-in"):
 *
 *   minimise  -c * sum_{i in rated} log softmax(Q p + b)_i  +  user_l2 * |p|^2
 *
 * with c = n^-alpha / norm (n = number of rated movies), Q the movie factors
 * and b the movie biases. The objective is strictly convex in p, so Newton's
 * method converges in a handful of steps; each step solves the d x d system
 * by Cholesky in plain C (no BLAS: see the Makefile's note on ml-serve).
 *
 * Ownership: nothing is kept; foldin_solve allocates its work space on the
 * heap (worker stacks are small) and frees it before returning.
 */
#ifndef ML_SERVE_FOLDIN_H
#define ML_SERVE_FOLDIN_H

#include <stddef.h>

#include "log.h"

struct foldin_params {
	double user_l2;      /* > 0 makes the Hessian positive definite */
	double weight_alpha; /* c = n^-alpha / norm */
	double weight_norm;
	int bias_last;       /* items are [q_i, b_i] and users [p_u, 1] */
};

/* items: n_items x dim row-major (the ranking table, as stored). rows: the
 * rated movies' row numbers (0-based, distinct). out: dim values, the user
 * vector in the same layout as the stored users ([p, 1] when bias_last).
 * Returns 0, or -1 with err (bad arguments, out of memory, no convergence). */
int foldin_solve(const double *items, size_t n_items, size_t dim, const size_t *rows,
		 size_t n_rows, const struct foldin_params *fp, double *out, lf_error *err);

/* Solves A x = y in place (x overwrites y) for symmetric positive definite A
 * (d x d row-major, upper triangle used, destroyed). -1 when A is not PD. */
int foldin_cholesky(double *a, double *y, size_t d);

#endif
