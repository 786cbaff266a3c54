/*
 * ease.h — EASE (Steck 2019, "Embarrassingly shallow autoencoders") turned
 * into low-rank user and movie vectors whose dot product ranks as EASE does.
 *
 * EASE's item-item weights are B = I - P diag(1/diag(P)) with
 * P = (G + l2 I)^-1, G = X^T X (X: users x movies, 1 where rated). For a
 * movie the user has not rated, X_u B_i = (X_u G (G + l2 I)^-1)_i / (l2 d_i)
 * with d = diag(P): a spectral filter s/(s + l2) on G's eigenvalues, so
 * keeping G's top-k eigenpairs (computed from the smaller K = X X^T by a
 * seeded randomised subspace iteration) gives
 *
 *   user u     E_u = X_u F,   F = V diag(s/(s + l2))      (movies x k)
 *   movie i    Q_i = V_i / d_i
 *
 * with V the right singular vectors of X and d_i = (1 - sum_j V_ij^2
 * s_j/(s_j + l2)) / l2 over the kept pairs. Movies the user rated score
 * differently from EASE, but every ranking excludes them. F is also the
 * fold-in: a new user's vector is the sum of F's rows of the movies rated.
 * With k >= min(users, movies) nothing is truncated and the scores of
 * unrated movies are exactly EASE's (test_train_ease.c checks it).
 *
 * Ownership: ease_model owns E, I and F; ease_free releases them.
 */
#ifndef LENSFLOW_TRAIN_EASE_H
#define LENSFLOW_TRAIN_EASE_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "log.h"

typedef struct ease_params {
	double l2;	   /* lambda on G's diagonal */
	size_t dim;	   /* eigenpairs kept (k) */
	size_t oversample; /* extra directions in the subspace iteration */
	int power;	   /* subspace iterations */
	uint64_t seed;
	int threads; /* for the sparse products (the bytes do not depend on it) */
	int sparse;  /* 1: the sparse path even where the dense one fits */
} ease_params;

typedef struct ease_model {
	size_t n_users, n_items, dim;
	float *E;	 /* n_users x dim */
	float *Q;	 /* n_items x dim */
	float *F;	 /* n_items x dim: the fold-in map */
	double mean, sd; /* of the scores E I^T over every (user, movie) */
} ease_model;

/* The dense path (ease.c: X and K = X X^T as dense floats, subspace
 * iteration on K) when both fit in 2^26 floats; the sparse one otherwise
 * (ease_sparse.c: subspace iteration on G = X^T X through products with the
 * sparse X, no users x users or movies x movies matrix). */
int ease_fit(const csr *X, size_t n_items, const ease_params *p, ease_model *out, lf_error *err);
int ease_fit_sparse(const csr *X, size_t n_items, const ease_params *p, ease_model *out,
		    lf_error *err);
/* 1 when the dense path's matrices fit (ML-1M does; ML-10M's 70k users do not). */
static inline int ease_dense_fits(size_t nu, size_t ni)
{
	return nu <= 46340 && ni <= ((size_t)1 << 26) / (nu ? nu : 1);
}

/* Shared by both paths. Q: an orthonormal basis of Y's columns (n x m
 * column-major, Householder QR). Eigen: the symmetric m x m T (column-major,
 * lower) -> eigenvalues ascending in w, eigenvectors in T. Filter: out->Q
 * holds V (ni x k, row-major; unit columns if `unit`, else X^T u_j to be
 * divided by sqrt(sig_j)); fills out->F and turns out->Q into V_i / d_i,
 * with dg (ni, zeroed) as scratch. */
int ease_orthonormalise(float *Y, int n, int m, lf_error *err);
int ease_eigen(float *T, int m, float *w, lf_error *err);
void ease_filter(ease_model *out, const float *sig, size_t ni, size_t k, int unit, double l2,
		 double *dg);

/* The sketch's width m (dim + oversample, at most nu and ni) and the rank
 * k kept (dim, at most m): the same for both paths. */
void ease_sketch(const ease_params *p, size_t nu, size_t ni, size_t *m, size_t *k);
/* The last step of both paths: out's sizes and its score moments (E and Q
 * filled). -1 (EX_OSERR): out of memory. */
int ease_done(ease_model *out, size_t nu, size_t ni, size_t k, lf_error *err);

/* Mean and standard deviation of the scores A B^T over all rows of A
 * (na x k) and B (nb x k), from the k x k Gram matrices. -1: out of memory. */
int score_moments(const float *A, size_t na, const float *B, size_t nb, size_t k, double *mean,
		  double *sd);

void ease_free(ease_model *m);

#endif
