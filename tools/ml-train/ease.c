/*
 * ease.c — see ease.h. The heavy steps are BLAS 3 on dense float matrices:
 * K = X X^T (ssyrk), the subspace iteration Y <- K Q (ssymm) with LAPACK's
 * Householder QR between steps (sgeqrf/sorgqr: Cholesky-QR would lose the
 * small directions after a few powers), the Rayleigh-Ritz step on the small
 * m x m matrix Q^T K Q (ssyev), and two sgemm for V and E. On ML-100k
 * (943 x 1682, k = 256) that is about 3 GFLOP.
 */
#include "ease.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "util.h"

/* LAPACK (Fortran ABI, hidden string lengths last), from OpenBLAS. */
void sgeqrf_(const int *m, const int *n, float *a, const int *lda, float *tau, float *work,
	     const int *lwork, int *info);
void sorgqr_(const int *m, const int *n, const int *k, float *a, const int *lda, const float *tau,
	     float *work, const int *lwork, int *info);
void ssyev_(const char *jobz, const char *uplo, const int *n, float *a, const int *lda, float *w,
	    float *work, const int *lwork, int *info, size_t ljobz, size_t luplo);

#define DROP_RATIO 1e-6 /* eigenvalues below this share of the largest are dropped */

/* Q <- an orthonormal basis of the columns of Y (n x m, column-major, m <= n). */
int ease_orthonormalise(float *Y, int n, int m, lf_error *err)
{
	int info = 0, lwork = -1;
	float q = 0;
	sgeqrf_(&n, &m, Y, &n, &q, &q, &lwork, &info);
	float q2 = 0;
	sorgqr_(&n, &m, &m, Y, &n, &q, &q2, &lwork, &info);
	lwork = (int)fmaxf(fmaxf(q, q2), (float)m) + 1;
	float *tau = lf_calloc((size_t)m, sizeof(float));
	float *work = lf_calloc((size_t)lwork, sizeof(float));
	if (!tau || !work) {
		free(tau);
		free(work);
		return lf_fail(err, EX_OSERR, "out of memory for the QR factorisation");
	}
	sgeqrf_(&n, &m, Y, &n, tau, work, &lwork, &info);
	if (info == 0)
		sorgqr_(&n, &m, &m, Y, &n, tau, work, &lwork, &info);
	free(tau);
	free(work);
	return info == 0 ? 0 : lf_fail(err, EX_SOFTWARE, "QR factorisation failed (info %d)", info);
}

/* Eigenpairs of the symmetric m x m T (column-major), ascending; T becomes
 * the eigenvectors. */
int ease_eigen(float *T, int m, float *w, lf_error *err)
{
	int info = 0, lwork = -1;
	float q = 0;
	ssyev_("V", "L", &m, T, &m, w, &q, &lwork, &info, 1, 1);
	lwork = (int)q + 1;
	float *work = lf_calloc((size_t)lwork, sizeof(float));
	if (!work)
		return lf_fail(err, EX_OSERR, "out of memory for the eigen decomposition");
	ssyev_("V", "L", &m, T, &m, w, work, &lwork, &info, 1, 1);
	free(work);
	return info == 0 ? 0
			 : lf_fail(err, EX_SOFTWARE, "eigen decomposition failed (info %d)", info);
}

int score_moments(const float *A, size_t na, const float *B, size_t nb, size_t k, double *mean,
		  double *sd)
{
	float *GA = lf_calloc(k * k, sizeof(float)), *GB = lf_calloc(k * k, sizeof(float));
	double *sa = lf_calloc(k, sizeof(double)), *sb = lf_calloc(k, sizeof(double));
	int rc = -1;
	if (!GA || !GB || !sa || !sb)
		goto done;
	cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)k, (int)na, 1.0f, A, (int)k, 0.0f,
		    GA, (int)k);
	cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)k, (int)nb, 1.0f, B, (int)k, 0.0f,
		    GB, (int)k);
	for (size_t r = 0; r < na; r++)
		for (size_t j = 0; j < k; j++)
			sa[j] += A[r * k + j];
	for (size_t r = 0; r < nb; r++)
		for (size_t j = 0; j < k; j++)
			sb[j] += B[r * k + j];
	double s = 0, s2 = 0;
	for (size_t j = 0; j < k; j++) {
		s += sa[j] * sb[j];
		s2 += (double)GA[j * k + j] * GB[j * k + j];
		for (size_t l = j + 1; l < k; l++)
			s2 += 2.0 * (double)GA[j * k + l] * GB[j * k + l];
	}
	double n = (double)na * (double)nb;
	*mean = s / n;
	*sd = sqrt(fmax(s2 / n - *mean * *mean, 0.0));
	rc = 0;
done:
	free(GA);
	free(GB);
	free(sa);
	free(sb);
	return rc;
}

typedef struct ework {
	float *X, *K, *Y, *Z, *T, *w, *Wk, *Ut;
} ework;

static void ework_free(ework *w)
{
	free(w->X);
	free(w->K);
	free(w->Y);
	free(w->Z);
	free(w->T);
	free(w->w);
	free(w->Wk);
	free(w->Ut);
}

/* The top k eigenpairs of K = X X^T: Ut (k x nu, row-major: the vectors
 * as rows) and sig (k, descending). */
static int top_eigen(ework *w, size_t nu, size_t ni, size_t k, size_t m, const ease_params *p,
		     float *sig, lf_error *err)
{
	int n = (int)nu, mm = (int)m;
	cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, n, (int)ni, 1.0f, w->X, (int)ni, 0.0f,
		    w->K, n);
	for (size_t r = 0; r < nu; r++)
		for (size_t c = r + 1; c < nu; c++)
			w->K[c * nu + r] = w->K[r * nu + c];
	rng g;
	rng_seed(&g, p->seed);
	for (size_t j = 0; j < nu * m; j++)
		w->Z[j] = (float)rng_normal(&g);
	cblas_ssymm(CblasColMajor, CblasLeft, CblasUpper, n, mm, 1.0f, w->K, n, w->Z, n, 0.0f, w->Y,
		    n);
	for (int it = 0; it < p->power; it++) {
		if (ease_orthonormalise(w->Y, n, mm, err) < 0)
			return -1;
		memcpy(w->Z, w->Y, nu * m * sizeof(float));
		cblas_ssymm(CblasColMajor, CblasLeft, CblasUpper, n, mm, 1.0f, w->K, n, w->Z, n,
			    0.0f, w->Y, n);
	}
	if (ease_orthonormalise(w->Y, n, mm, err) < 0)
		return -1;
	/* Rayleigh-Ritz: T = Q^T K Q */
	cblas_ssymm(CblasColMajor, CblasLeft, CblasUpper, n, mm, 1.0f, w->K, n, w->Y, n, 0.0f, w->Z,
		    n);
	cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, mm, mm, n, 1.0f, w->Y, n, w->Z, n,
		    0.0f, w->T, mm);
	if (ease_eigen(w->T, mm, w->w, err) < 0)
		return -1;
	for (size_t j = 0; j < k; j++) { /* descending: column m-1-j */
		memcpy(w->Wk + j * m, w->T + (m - 1 - j) * m, m * sizeof(float));
		sig[j] = w->w[m - 1 - j];
	}
	/* Ut (k x nu row-major) = (Q Wk)^T */
	cblas_sgemm(CblasColMajor, CblasTrans, CblasTrans, (int)k, n, mm, 1.0f, w->Wk, mm, w->Y, n,
		    0.0f, w->Ut, (int)k);
	/* that is column-major k x nu with ld k, i.e. row-major nu x k: transpose */
	memcpy(w->Z, w->Ut, k * nu * sizeof(float));
	for (size_t u = 0; u < nu; u++)
		for (size_t j = 0; j < k; j++)
			w->Ut[j * nu + u] = w->Z[u * k + j];
	return 0;
}

void ease_filter(ease_model *out, const float *sig, size_t ni, size_t k, int unit, double l2,
		 double *dg)
{
	float *V = out->Q;
	double top = sig[0] > 0 ? sig[0] : 0;
	for (size_t j = 0; j < k; j++) {
		int keep = top > 0 && sig[j] > DROP_RATIO * top;
		double inv = !keep ? 0.0 : unit ? 1.0 : 1.0 / sqrt((double)sig[j]);
		double f = keep ? sig[j] / (sig[j] + l2) : 0.0;
		for (size_t i = 0; i < ni; i++) {
			double v = V[i * k + j] * inv;
			V[i * k + j] = (float)v;
			out->F[i * k + j] = (float)(v * f);
			dg[i] += v * v * f;
		}
	}
	for (size_t i = 0; i < ni; i++) {
		/* d_i * l2 = 1 - sum; V's rows have norm <= 1 and f < 1 */
		double dl = fmax(1.0 - dg[i], 1e-6);
		for (size_t j = 0; j < k; j++)
			out->Q[i * k + j] = (float)(V[i * k + j] / dl);
	}
}

void ease_sketch(const ease_params *p, size_t nu, size_t ni, size_t *m, size_t *k)
{
	*m = p->dim + p->oversample;
	if (*m > nu)
		*m = nu;
	if (*m > ni)
		*m = ni;
	*k = p->dim < *m ? p->dim : *m;
}

int ease_done(ease_model *out, size_t nu, size_t ni, size_t k, lf_error *err)
{
	out->n_users = nu;
	out->n_items = ni;
	out->dim = k;
	if (score_moments(out->E, nu, out->Q, ni, k, &out->mean, &out->sd) < 0)
		return lf_fail(err, EX_OSERR, "out of memory for the score moments");
	return 0;
}

int ease_fit(const csr *X, size_t n_items, const ease_params *p, ease_model *out, lf_error *err)
{
	memset(out, 0, sizeof *out);
	size_t nu = X->n_rows, ni = n_items;
	size_t m, k;
	ease_sketch(p, nu, ni, &m, &k);
	if (p->sparse || !ease_dense_fits(nu, ni))
		return ease_fit_sparse(X, ni, p, out, err);
	ework w = {0};
	float *sig = lf_calloc(k, sizeof(float));
	w.X = lf_calloc(nu * ni, sizeof(float));
	w.K = lf_calloc(nu * nu, sizeof(float));
	w.Y = lf_calloc(nu * m, sizeof(float));
	w.Z = lf_calloc(nu * (m > k ? m : k), sizeof(float));
	w.T = lf_calloc(m * m, sizeof(float));
	w.w = lf_calloc(m, sizeof(float));
	w.Wk = lf_calloc(m * k, sizeof(float));
	w.Ut = lf_calloc(k * nu, sizeof(float));
	out->E = lf_calloc(nu * k, sizeof(float));
	out->Q = lf_calloc(ni * k, sizeof(float));
	out->F = lf_calloc(ni * k, sizeof(float));
	double *dg = lf_calloc(ni, sizeof(double));
	if (!sig || !w.X || !w.K || !w.Y || !w.Z || !w.T || !w.w || !w.Wk || !w.Ut || !out->E ||
	    !out->Q || !out->F || !dg) {
		lf_fail(err, EX_OSERR, "out of memory for EASE (%zu x %zu)", nu, ni);
		goto fail;
	}
	for (size_t u = 0; u < nu; u++)
		for (size_t j = X->start[u]; j < X->start[u + 1]; j++)
			w.X[u * ni + (size_t)X->col[j]] = 1.0f;
	if (top_eigen(&w, nu, ni, k, m, p, sig, err) < 0)
		goto fail;
	/* V (ni x k, in out->Q for now) = X^T U diag(1/sqrt(sig)) */
	float *V = out->Q;
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasTrans, (int)ni, (int)k, (int)nu, 1.0f, w.X,
		    (int)ni, w.Ut, (int)nu, 0.0f, V, (int)k);
	ease_filter(out, sig, ni, k, 0, p->l2, dg);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nu, (int)k, (int)ni, 1.0f, w.X,
		    (int)ni, out->F, (int)k, 0.0f, out->E, (int)k);
	if (ease_done(out, nu, ni, k, err) < 0)
		goto fail;
	ework_free(&w);
	free(sig);
	free(dg);
	return 0;
fail:
	ework_free(&w);
	free(sig);
	free(dg);
	ease_free(out);
	return -1;
}

void ease_free(ease_model *m)
{
	free(m->E);
	free(m->Q);
	free(m->F);
	memset(m, 0, sizeof *m);
}
