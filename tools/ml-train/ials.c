/*
 * ials.c — see ials.h. One half-sweep solves every row of A (users or
 * movies) with B fixed: G = B^T B + reg I once, then per row the rated
 * rows of B gathered, M = G + alpha B_r^T B_r (ssyrk), b = (1 + alpha)
 * sum of B_r's rows, and M a = b by Cholesky (spotrf/spotrs). Rows with
 * nothing rated get 0 (their minimiser). The movies' side uses the
 * transposed matrix, built once.
 */
#include "ials.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "sparse.h"
#include "util.h"

/* LAPACK (Fortran ABI, hidden string length last), from OpenBLAS. */
void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info, size_t luplo);
void spotrs_(const char *uplo, const int *n, const int *nrhs, const float *a, const int *lda,
	     float *b, const int *ldb, int *info, size_t luplo);

typedef struct iwork {
	float *G, *M, *Br, *b;
} iwork;

/* Solves every row of A (R's rows) given B (nb rows), both dim wide. */
static int half_sweep(const csr *R, float *A, const float *B, size_t nb, size_t d,
		      const ials_params *p, iwork *w, lf_error *err)
{
	int n = (int)d, one = 1, info = 0;
	cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, n, (int)nb, 1.0f, B, n, 0.0f, w->G, n);
	for (size_t k = 0; k < d; k++)
		w->G[k * d + k] += (float)p->reg;
	for (size_t r = 0; r < R->n_rows; r++) {
		size_t m = R->start[r + 1] - R->start[r];
		float *a = A + r * d;
		if (m == 0) {
			memset(a, 0, d * sizeof(float));
			continue;
		}
		memset(w->b, 0, d * sizeof(float));
		for (size_t j = 0; j < m; j++) {
			const float *row = B + (size_t)R->col[R->start[r] + j] * d;
			memcpy(w->Br + j * d, row, d * sizeof(float));
			for (size_t k = 0; k < d; k++)
				w->b[k] += row[k];
		}
		memcpy(w->M, w->G, d * d * sizeof(float));
		cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, n, (int)m, (float)p->alpha,
			    w->Br, n, 1.0f, w->M, n);
		for (size_t k = 0; k < d; k++)
			a[k] = (float)(1.0 + p->alpha) * w->b[k];
		/* row-major upper = column-major lower */
		spotrf_("L", &n, w->M, &n, &info, 1);
		if (info == 0)
			spotrs_("L", &n, &one, w->M, &n, a, &n, &info, 1);
		if (info != 0)
			return lf_fail(err, EX_SOFTWARE,
				       "iALS: Cholesky failed on row %zu (info %d)", r, info);
	}
	return 0;
}

int ials_fit(const csr *X, size_t n_items, const ials_params *p, ials_model *out, lf_error *err)
{
	memset(out, 0, sizeof *out);
	size_t nu = X->n_rows, ni = n_items, d = p->dim;
	size_t longest = 1;
	csr T = {0};
	iwork w = {0};
	if (csr_transpose(X, ni, &T) < 0)
		return lf_fail(err, EX_OSERR, "out of memory for iALS");
	for (size_t r = 0; r < nu; r++)
		if (X->start[r + 1] - X->start[r] > longest)
			longest = X->start[r + 1] - X->start[r];
	for (size_t c = 0; c < ni; c++)
		if (T.start[c + 1] - T.start[c] > longest)
			longest = T.start[c + 1] - T.start[c];
	out->P = lf_calloc(nu * d, sizeof(float));
	out->Q = lf_calloc(ni * d, sizeof(float));
	w.G = lf_calloc(d * d, sizeof(float));
	w.M = lf_calloc(d * d, sizeof(float));
	w.Br = lf_calloc(p->cg_steps > 0 ? 1 : longest * d, sizeof(float));
	w.b = lf_calloc(d, sizeof(float));
	int rc = -1;
	if (!out->P || !out->Q || !w.G || !w.M || !w.Br || !w.b) {
		lf_fail(err, EX_OSERR, "out of memory for iALS (%zu x %zu, dim %zu)", nu, ni, d);
		goto done;
	}
	rng g;
	rng_seed(&g, p->seed);
	for (size_t j = 0; j < ni * d; j++)
		out->Q[j] = (float)(0.01 * rng_normal(&g));
	for (int it = 0; it < p->iters; it++) {
		int bad = p->cg_steps > 0
				  ? ials_cg_half_sweep(X, out->P, out->Q, ni, d, p, p->threads, w.G,
						       err) < 0 ||
					    ials_cg_half_sweep(&T, out->Q, out->P, nu, d, p,
							       p->threads, w.G, err) < 0
				  : half_sweep(X, out->P, out->Q, ni, d, p, &w, err) < 0 ||
					    half_sweep(&T, out->Q, out->P, nu, d, p, &w, err) < 0;
		if (bad)
			goto done;
	}
	out->n_users = nu;
	out->n_items = ni;
	out->dim = d;
	rc = 0;
done:
	free(w.G);
	free(w.M);
	free(w.Br);
	free(w.b);
	csr_free(&T);
	if (rc < 0)
		ials_free(out);
	return rc;
}

void ials_free(ials_model *m)
{
	free(m->P);
	free(m->Q);
	memset(m, 0, sizeof *m);
}
