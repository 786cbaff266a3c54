/*
 * compact.c — see compact.h. Double precision throughout (the eigenvalues of
 * Um^T Um span many orders of magnitude: EASE's, iALS's and the softmax MF's
 * blocks side by side); the tables stay float.
 */
#include "compact.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "util.h"

/* LAPACK (Fortran ABI, hidden string lengths last), from OpenBLAS. */
void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
	    double *work, const int *lwork, int *info, size_t ljobz, size_t luplo);

/* Eigenpairs of the symmetric n x n A (row-major, symmetric so either
 * order): ascending values in w, A's rows become... LAPACK is column-major,
 * so A's columns (read column-major) are the eigenvectors: vector j is
 * A[k * n + j] over k after the transpose below. */
static int eigen(double *A, int n, double *w, lf_error *err)
{
	int info = 0, lwork = -1;
	double q = 0;
	dsyev_("V", "Um", &n, A, &n, w, &q, &lwork, &info, 1, 1);
	lwork = (int)q + 1;
	double *work = lf_calloc((size_t)lwork, sizeof(double));
	if (!work)
		return lf_fail(err, EX_OSERR, "out of memory for the compact form");
	dsyev_("V", "Um", &n, A, &n, w, work, &lwork, &info, 1, 1);
	free(work);
	if (info != 0)
		return lf_fail(err, EX_SOFTWARE, "compact form: eigen decomposition failed (info %d)",
			       info);
	/* column-major eigenvectors -> row-major: V[k][j] = component k of vector j */
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++) {
			double t = A[i * n + j];
			A[i * n + j] = A[j * n + i];
			A[j * n + i] = t;
		}
	return 0;
}

/* X (rows x w, float) as doubles */
static double *widen(const lfe_table *t)
{
	size_t n = (size_t)t->rows * t->dim;
	double *x = lf_calloc(n ? n : 1, sizeof(double));
	if (x)
		for (size_t i = 0; i < n; i++)
			x[i] = t->values[i];
	return x;
}

/* out (rows x r) = X (rows x w) T (w x r), as a new table named name */
static int project(lfe *m, const char *name, const double *X, const int32_t *ids, size_t rows,
		   size_t w, const double *T, size_t r, lf_error *err)
{
	double *Y = lf_calloc(rows * r, sizeof(double));
	if (!Y)
		return lf_fail(err, EX_OSERR, "out of memory for the compact form");
	cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)r, (int)w, 1.0, X,
		    (int)w, T, (int)r, 0.0, Y, (int)r);
	lfe_table *t;
	if (lfe_add_table(m, name, (uint32_t)rows, (uint32_t)r, &t, err) < 0) {
		free(Y);
		return -1;
	}
	memcpy(t->ids, ids, rows * sizeof *ids);
	for (size_t i = 0; i < rows * r; i++)
		t->values[i] = (float)Y[i];
	free(Y);
	return 0;
}

/* Renames table `from` to `to` (to at most LFE_NAME_LEN); to NULL drops it. */
static void rename_table(lfe *m, const char *from, const char *to)
{
	for (uint32_t i = 0; i < m->n_tables; i++)
		if (strcmp(m->tables[i].name, from) == 0) {
			if (!to) {
				free(m->tables[i].ids);
				free(m->tables[i].values);
				memmove(&m->tables[i], &m->tables[i + 1],
					(m->n_tables - i - 1) * sizeof m->tables[i]);
				m->n_tables--;
				return;
			}
			memset(m->tables[i].name, 0, sizeof m->tables[i].name);
			strcpy(m->tables[i].name, to);
			return;
		}
}

int compact_model(lfe *m, size_t r, lf_error *err)
{
	const lfe_table *tu = lfe_find(m, MODEL_T_USERS), *ti = lfe_find(m, MODEL_T_ITEMS);
	if (!tu || !ti || tu->dim != ti->dim)
		return lf_fail(err, EX_SOFTWARE, "compact form: no users and items of one width");
	size_t w = ti->dim, nu = tu->rows, ni = ti->rows;
	if (r == 0 || r >= w)
		return lf_fail(err, EX_USAGE, "--serve-dim %zu is not below the model's width %zu",
			       r, w);
	int rc = -1;
	double *Um = widen(tu), *Im = widen(ti);
	double *G = lf_calloc(w * w, sizeof(double)), *H = lf_calloc(w * w, sizeof(double));
	double *A = lf_calloc(w * w, sizeof(double)), *K = lf_calloc(w * w, sizeof(double));
	double *tmp = lf_calloc(w * w, sizeof(double)), *d = lf_calloc(w, sizeof(double));
	double *l = lf_calloc(w, sizeof(double));
	double *Ti = lf_calloc(w * r, sizeof(double)), *Tu = lf_calloc(w * r, sizeof(double));
	double *B = lf_calloc(w * r, sizeof(double));
	if (!Um || !Im || !G || !H || !A || !K || !tmp || !d || !l || !Ti || !Tu || !B) {
		lf_fail(err, EX_OSERR, "out of memory for the compact form");
		goto done;
	}
	cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)w, (int)nu, 1.0, Um, (int)w, 0.0, G,
		    (int)w);
	cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)w, (int)ni, 1.0, Im, (int)w, 0.0, H,
		    (int)w);
	for (size_t i = 0; i < w; i++) /* the lower triangles */
		for (size_t j = 0; j < i; j++) {
			G[i * w + j] = G[j * w + i];
			H[i * w + j] = H[j * w + i];
		}
	memcpy(A, G, w * w * sizeof *A);
	if (eigen(A, (int)w, d, err) < 0) /* Um^T Um = V D V^T; A <- V D^1/2 */
		goto done;
	for (size_t k = 0; k < w; k++)
		for (size_t j = 0; j < w; j++)
			A[k * w + j] *= d[j] > 0 ? sqrt(d[j]) : 0.0;
	/* K = A^T H A */
	cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)w, (int)w, (int)w, 1.0, H,
		    (int)w, A, (int)w, 0.0, tmp, (int)w);
	cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)w, (int)w, (int)w, 1.0, A,
		    (int)w, tmp, (int)w, 0.0, K, (int)w);
	if (eigen(K, (int)w, l, err) < 0)
		goto done;
	/* the r largest (the last r, ascending): B = A W_r, scaled per column */
	double top = l[w - 1];
	for (size_t j = 0; j < r; j++) {
		size_t c = w - 1 - j;
		double lam = l[c];
		double si = lam > top * 1e-14 && lam > 0 ? pow(lam, -0.25) : 0.0;
		double su = lam > top * 1e-14 && lam > 0 ? pow(lam, -0.75) : 0.0;
		for (size_t k = 0; k < w; k++) {
			double b = 0;
			for (size_t q = 0; q < w; q++)
				b += A[k * w + q] * K[q * w + c];
			B[k * r + j] = b;
			Ti[k * r + j] = b * si;
		}
		for (size_t k = 0; k < w; k++) /* column j of T_u: H B_j scaled */
			Tu[k * r + j] = su;
	}
	cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)w, (int)r, (int)w, 1.0, H,
		    (int)w, B, (int)r, 0.0, tmp, (int)r);
	for (size_t k = 0; k < w * r; k++)
		Tu[k] *= tmp[k];
	/* the full-width movies stay as fold_items; users and items become r wide */
	int32_t *uids = malloc(nu * sizeof *uids), *iids = malloc(ni * sizeof *iids);
	int32_t *kids = malloc(w * sizeof *kids);
	if (!uids || !iids || !kids) {
		free(uids);
		free(iids);
		free(kids);
		lf_fail(err, EX_OSERR, "out of memory for the compact form");
		goto done;
	}
	memcpy(uids, tu->ids, nu * sizeof *uids);
	memcpy(iids, ti->ids, ni * sizeof *iids);
	for (size_t k = 0; k < w; k++)
		kids[k] = (int32_t)k;
	/* tu and ti are not used from here: the table array moves */
	rename_table(m, MODEL_T_USERS, NULL);
	rename_table(m, MODEL_T_ITEMS, MODEL_T_FOLD_ITEMS);
	double *Tud = Tu;
	lfe_table *t;
	int ok = project(m, MODEL_T_USERS, Um, uids, nu, w, Tu, r, err) == 0 &&
		 project(m, MODEL_T_ITEMS, Im, iids, ni, w, Ti, r, err) == 0 &&
		 lfe_add_table(m, MODEL_T_SERVE_MAP, (uint32_t)w, (uint32_t)r, &t, err) == 0;
	if (ok) {
		memcpy(t->ids, kids, w * sizeof *kids);
		for (size_t k = 0; k < w * r; k++)
			t->values[k] = (float)Tud[k];
	}
	free(uids);
	free(iids);
	free(kids);
	rc = ok ? 0 : -1;
done:
	free(Um);
	free(Im);
	free(G);
	free(H);
	free(A);
	free(K);
	free(tmp);
	free(d);
	free(l);
	free(Ti);
	free(Tu);
	free(B);
	return rc;
}
