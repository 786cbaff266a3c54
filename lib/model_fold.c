/*
 * model_fold.c — a new user's vector (model.h, "A new user's exact vector").
 * The softmax-MF fold-in is Newton's method on the softmax objective. With
 * s = softmax(Q p + b), mu = sum_j s_j q_j and C = c * n (n rated movies):
 *
 *   gradient  g = C mu - c sum_rated q_i + 2 l2 p
 *   Hessian   H = C (sum_j s_j q_j q_j^T - mu mu^T) + 2 l2 I
 *
 * H is accumulated in its upper triangle only, then solved by Cholesky (it is
 * symmetric positive definite when l2 > 0; a tiny ridge is added when l2 is
 * 0). Steps stop when no coordinate moves by 1e-6, or after 25.
 */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITER 25
#define TOL 1e-6

int model_cholesky(double *a, double *y, size_t d)
{
	/* A = U^T U, U upper triangular, stored over A's upper triangle. */
	for (size_t j = 0; j < d; j++) {
		double s = a[j * d + j];
		for (size_t k = 0; k < j; k++)
			s -= a[k * d + j] * a[k * d + j];
		if (!(s > 0))
			return -1;
		double ujj = sqrt(s);
		a[j * d + j] = ujj;
		for (size_t i = j + 1; i < d; i++) {
			double t = a[j * d + i];
			for (size_t k = 0; k < j; k++)
				t -= a[k * d + j] * a[k * d + i];
			a[j * d + i] = t / ujj;
		}
	}
	for (size_t i = 0; i < d; i++) { /* U^T z = y */
		double t = y[i];
		for (size_t k = 0; k < i; k++)
			t -= a[k * d + i] * y[k];
		y[i] = t / a[i * d + i];
	}
	for (size_t i = d; i-- > 0;) { /* U x = z */
		double t = y[i];
		for (size_t k = i + 1; k < d; k++)
			t -= a[i * d + k] * y[k];
		y[i] = t / a[i * d + i];
	}
	return 0;
}

int model_foldin_solve(const double *items, size_t n_items, size_t dim, const size_t *rows,
		       size_t n_rows, const struct model_foldin *fp, double *out, lf_error *err)
{
	size_t d = fp->bias_last ? dim - 1 : dim;
	if (n_rows == 0 || n_items == 0 || dim == 0 || d == 0 || d > 4096)
		return lf_fail(err, EX_SOFTWARE, "fold-in: empty input or bad dimension");
	if (!(fp->user_l2 >= 0) || !(fp->weight_norm > 0) || !isfinite(fp->weight_alpha))
		return lf_fail(err, EX_SOFTWARE, "fold-in: bad parameters of the set");
	double c = pow((double)n_rows, -fp->weight_alpha) / fp->weight_norm;
	double total = c * (double)n_rows;
	double ridge = 2.0 * fp->user_l2;
	if (ridge <= 0)
		ridge = 1e-9;

	/* One allocation: s[n], h[d*d], g[d], mu[d], target[d], p[d]. */
	size_t nd = n_items + d * d + 4 * d;
	double *w = calloc(nd, sizeof *w);
	if (!w)
		return lf_fail(err, EX_OSERR, "fold-in: out of memory");
	double *s = w, *h = s + n_items, *g = h + d * d, *mu = g + d, *target = mu + d,
	       *p = target + d;

	for (size_t r = 0; r < n_rows; r++) {
		if (rows[r] >= n_items) {
			free(w);
			return lf_fail(err, EX_SOFTWARE, "fold-in: row out of range");
		}
		const double *q = items + rows[r] * dim;
		for (size_t j = 0; j < d; j++)
			target[j] += c * q[j];
	}

	int converged = 0;
	for (int it = 0; it < MAX_ITER && !converged; it++) {
		double top = -INFINITY;
		for (size_t i = 0; i < n_items; i++) {
			const double *q = items + i * dim;
			double z = fp->bias_last ? q[d] : 0.0;
			for (size_t j = 0; j < d; j++)
				z += q[j] * p[j];
			s[i] = z;
			if (z > top)
				top = z;
		}
		double sum = 0;
		for (size_t i = 0; i < n_items; i++) {
			s[i] = exp(s[i] - top);
			sum += s[i];
		}
		memset(mu, 0, d * sizeof *mu);
		memset(h, 0, d * d * sizeof *h);
		/* Rank-1 updates four movies at a time: each element of h is loaded and
		 * stored once per four movies instead of once per movie (the cost of the
		 * fold-in is this loop: n d^2 / 2 multiply-adds per step). */
		size_t i = 0;
		while (i < n_items) {
			const double *q[4];
			double w4[4];
			int m = 0;
			for (; i < n_items && m < 4; i++) {
				double si = s[i] / sum;
				if (si < 1e-300)
					continue; /* contributes nothing a double can hold */
				q[m] = items + i * dim;
				w4[m++] = si;
			}
			if (m == 0)
				break;
			for (; m < 4; m++) { /* pad with weight 0 */
				q[m] = q[0];
				w4[m] = 0.0;
			}
			for (size_t j = 0; j < d; j++) {
				double a0 = w4[0] * q[0][j], a1 = w4[1] * q[1][j];
				double a2 = w4[2] * q[2][j], a3 = w4[3] * q[3][j];
				mu[j] += a0 + a1 + a2 + a3;
				double *hj = h + j * d;
				for (size_t k = j; k < d; k++)
					hj[k] += a0 * q[0][k] + a1 * q[1][k] + a2 * q[2][k] + a3 * q[3][k];
			}
		}
		for (size_t j = 0; j < d; j++) {
			g[j] = total * mu[j] - target[j] + ridge * p[j];
			for (size_t k = j; k < d; k++)
				h[j * d + k] = total * (h[j * d + k] - mu[j] * mu[k]);
			h[j * d + j] += ridge;
		}
		if (model_cholesky(h, g, d) < 0) {
			free(w);
			return lf_fail(err, EX_SOFTWARE, "fold-in: the Hessian is not positive definite");
		}
		double big = 0;
		for (size_t j = 0; j < d; j++) {
			p[j] -= g[j];
			if (fabs(g[j]) > big)
				big = fabs(g[j]);
		}
		if (!isfinite(big)) {
			free(w);
			return lf_fail(err, EX_SOFTWARE, "fold-in: diverged");
		}
		converged = big < TOL;
	}
	for (size_t j = 0; j < d; j++)
		out[j] = p[j];
	if (fp->bias_last)
		out[d] = 1.0;
	free(w);
	return 0;
}

int model_fold_derive(struct model_fold *f, const double *items, size_t n, size_t dim,
		      lf_error *err)
{
	if (!f->has_blend)
		return 0;
	size_t ki = f->blend.k_i, m = f->blend.m, off = f->blend.k_e;
	if (ki) { /* G = Q'^T Q' + reg I, upper triangle */
		if (!(f->gram = calloc(ki * ki, sizeof *f->gram)) ||
		    !(f->ials = malloc((n ? n : 1) * ki * sizeof *f->ials)))
			return lf_fail(err, EX_OSERR, "out of memory");
		for (size_t i = 0; i < n; i++) {
			const double *q = items + i * dim + off;
			memcpy(f->ials + i * ki, q, ki * sizeof *f->ials);
			for (size_t j = 0; j < ki; j++)
				for (size_t k = j; k < ki; k++)
					f->gram[j * ki + k] += q[j] * q[k];
		}
		for (size_t j = 0; j < ki; j++)
			f->gram[j * ki + j] += f->blend.ials_reg;
	}
	if (m) {
		if (!(f->mf = malloc((n ? n : 1) * m * sizeof *f->mf)))
			return lf_fail(err, EX_OSERR, "out of memory");
		for (size_t i = 0; i < n; i++)
			memcpy(f->mf + i * m, items + i * dim + off + ki, m * sizeof *f->mf);
	}
	return 0;
}

static int ials_block(const struct model_fold *f, const size_t *rows, size_t n_rows, double *out,
		      lf_error *err)
{
	size_t ki = f->blend.k_i;
	double alpha = f->blend.ials_alpha;
	double *a = malloc(ki * ki * sizeof *a);
	if (!a)
		return lf_fail(err, EX_OSERR, "fold-in: out of memory");
	memcpy(a, f->gram, ki * ki * sizeof *a);
	memset(out, 0, ki * sizeof *out);
	for (size_t r = 0; r < n_rows; r++) {
		const double *q = f->ials + rows[r] * ki;
		for (size_t j = 0; j < ki; j++) {
			out[j] += q[j];
			double aj = alpha * q[j];
			for (size_t k = j; k < ki; k++)
				a[j * ki + k] += aj * q[k];
		}
	}
	for (size_t j = 0; j < ki; j++)
		out[j] *= 1.0 + alpha;
	int rc = model_cholesky(a, out, ki);
	free(a);
	if (rc < 0)
		return lf_fail(err, EX_SOFTWARE, "fold-in: the iALS system is not positive definite");
	for (size_t j = 0; j < ki; j++)
		out[j] *= f->blend.a_i;
	return 0;
}

int model_fold_solve(const struct model_fold *f, const double *items, size_t n, size_t dim,
		     const size_t *rows, size_t n_rows, double *out, lf_error *err)
{
	if (!f->has_blend)
		return model_foldin_solve(items, n, dim, rows, n_rows, &f->foldin, out, err);
	const struct model_blend *b = &f->blend;
	if (n_rows == 0 || b->k_e + b->k_i + b->m != dim)
		return lf_fail(err, EX_SOFTWARE, "fold-in: empty input or bad dimension");
	for (size_t r = 0; r < n_rows; r++)
		if (rows[r] >= n)
			return lf_fail(err, EX_SOFTWARE, "fold-in: row out of range");
	memset(out, 0, dim * sizeof *out);
	for (size_t r = 0; b->k_e && r < n_rows; r++) { /* EASE: X_u F */
		const float *e = f->ease + rows[r] * b->k_e;
		for (size_t j = 0; j < b->k_e; j++)
			out[j] += e[j];
	}
	if (b->k_i && ials_block(f, rows, n_rows, out + b->k_e, err) < 0)
		return -1;
	if (b->m && model_foldin_solve(f->mf, n, b->m, rows, n_rows, &f->foldin,
				       out + b->k_e + b->k_i, err) < 0)
		return -1;
	return 0;
}

void model_fold_free(struct model_fold *f)
{
	free(f->ease_table);
	free(f->ease);
	free(f->gram);
	free(f->ials);
	free(f->mf);
	memset(f, 0, sizeof *f);
}
