/*
 * ease_sparse.c — EASE's eigenpairs (see ease.h) when X X^T does not fit:
 * a seeded randomised subspace iteration on G = X^T X (movies x movies)
 * that never forms G. Each power step is two sparse products, A = X Y and
 * Y = X^T A (2 nnz m additions), then Householder QR of the movies x m
 * basis; Rayleigh-Ritz on T = (X Q)^T (X Q) (ssyrk, users x m). Memory:
 * a few movies x m and one users x m float matrix; ML-25M's shape (162k
 * users, 62k movies, m = 288): about 0.5 GB.
 */
#include "ease.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "sparse.h"
#include "util.h"

/* row-major r x c (src) -> row-major c x r (dst) */
static void transpose_dense(const float *src, size_t r, size_t c, float *dst)
{
	for (size_t i = 0; i < r; i++)
		for (size_t j = 0; j < c; j++)
			dst[j * r + i] = src[i * c + j];
}

/* Y (ni x m row-major) <- an orthonormal basis of its columns; Z scratch. */
static int basis(float *Y, float *Z, size_t ni, size_t m, lf_error *err)
{
	transpose_dense(Y, ni, m, Z); /* column-major ni x m */
	if (ease_orthonormalise(Z, (int)ni, (int)m, err) < 0)
		return -1;
	transpose_dense(Z, m, ni, Y);
	return 0;
}

typedef struct swork {
	csr T;
	float *Y, *Z, *A, *T2, *w, *Wk, *sig;
	double *dg;
} swork;

static void swork_free(swork *s)
{
	csr_free(&s->T);
	free(s->Y);
	free(s->Z);
	free(s->A);
	free(s->T2);
	free(s->w);
	free(s->Wk);
	free(s->sig);
	free(s->dg);
}

int ease_fit_sparse(const csr *X, size_t n_items, const ease_params *p, ease_model *out,
		    lf_error *err)
{
	memset(out, 0, sizeof *out);
	size_t nu = X->n_rows, ni = n_items;
	size_t m, k;
	ease_sketch(p, nu, ni, &m, &k);
	int th = p->threads;
	swork s = {0};
	s.Y = lf_calloc(ni * m, sizeof(float));
	s.Z = lf_calloc(ni * m, sizeof(float));
	s.A = lf_calloc(nu * m, sizeof(float));
	s.T2 = lf_calloc(m * m, sizeof(float));
	s.w = lf_calloc(m, sizeof(float));
	s.Wk = lf_calloc(k * m, sizeof(float));
	s.sig = lf_calloc(k, sizeof(float));
	s.dg = lf_calloc(ni, sizeof(double));
	out->E = lf_calloc(nu * k, sizeof(float));
	out->Q = lf_calloc(ni * k, sizeof(float));
	out->F = lf_calloc(ni * k, sizeof(float));
	if (!s.Y || !s.Z || !s.A || !s.T2 || !s.w || !s.Wk || !s.sig || !s.dg || !out->E ||
	    !out->Q || !out->F || csr_transpose(X, ni, &s.T) < 0) {
		lf_fail(err, EX_OSERR, "out of memory for sparse EASE (%zu x %zu, %zu directions)",
			nu, ni, m);
		goto fail;
	}
	rng g;
	rng_seed(&g, p->seed);
	for (size_t j = 0; j < ni * m; j++)
		s.Z[j] = (float)rng_normal(&g);
	spmm(X, s.Z, m, s.A, th); /* Y = G Omega */
	spmm(&s.T, s.A, m, s.Y, th);
	for (int it = 0; it < p->power; it++) {
		if (basis(s.Y, s.Z, ni, m, err) < 0)
			goto fail;
		spmm(X, s.Y, m, s.A, th);
		spmm(&s.T, s.A, m, s.Y, th);
	}
	if (basis(s.Y, s.Z, ni, m, err) < 0)
		goto fail;
	/* Rayleigh-Ritz: T = (X Q)^T (X Q) = Q^T G Q */
	spmm(X, s.Y, m, s.A, th);
	cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)m, (int)nu, 1.0f, s.A, (int)m,
		    0.0f, s.T2, (int)m);
	if (ease_eigen(s.T2, (int)m, s.w, err) < 0) /* row-major upper = column-major lower */
		goto fail;
	for (size_t j = 0; j < k; j++) { /* descending: column m-1-j, as row j of Wk */
		memcpy(s.Wk + j * m, s.T2 + (m - 1 - j) * m, m * sizeof(float));
		s.sig[j] = s.w[m - 1 - j];
	}
	/* V (ni x k) = Q Wk^T: unit eigenvectors of G */
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)ni, (int)k, (int)m, 1.0f, s.Y,
		    (int)m, s.Wk, (int)m, 0.0f, out->Q, (int)k);
	ease_filter(out, s.sig, ni, k, 1, p->l2, s.dg);
	spmm(X, out->F, k, out->E, th); /* E = X F */
	if (ease_done(out, nu, ni, k, err) < 0)
		goto fail;
	swork_free(&s);
	return 0;
fail:
	swork_free(&s);
	ease_free(out);
	return -1;
}
