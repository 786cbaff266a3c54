/*
 * ials_cg.c — iALS's half-sweep by conjugate gradient (Takacs, Pilaszy &
 * Tikk 2011), for data where a Cholesky per row (d^2 per rating, d^3 per
 * row) costs too much. Each row's system M a = b, M = G + alpha B_r^T B_r
 * (G = B^T B + reg I, formed once), is never formed: M x = G x + alpha
 * B_r^T (B_r x) costs d^2 + 2 m d, and a few CG steps started from the
 * row's current value (warm start: the previous sweep's answer) stay close
 * to the exact solution. Rows are split over threads; each row is solved
 * by one thread alone, so the bytes do not depend on the thread count.
 */
#include "ials.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "sparse.h"
#include "util.h"

typedef struct cg_part {
	const csr *R;
	float *A;
	const float *B, *G;
	size_t d, r0, r1;
	float alpha;
	int steps;
	float *scratch; /* 4 d */
	float *Br;	/* longest x d */
} cg_part;

/* 4 floats as one value (GCC/Clang vector extension): the loops below
 * compile to SIMD at -O2, and a dot product sums its lanes in a fixed
 * order, so the bytes do not depend on the thread count */
typedef float v4 __attribute__((vector_size(16)));

static v4 load4(const float *p)
{
	v4 v;
	memcpy(&v, p, sizeof v);
	return v;
}

static float dot(const float *a, const float *b, size_t d)
{
	v4 acc = {0}, acc2 = {0};
	size_t k = 0;
	for (; k + 8 <= d; k += 8) {
		acc += load4(a + k) * load4(b + k);
		acc2 += load4(a + k + 4) * load4(b + k + 4);
	}
	acc += acc2;
	float s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
	for (; k < d; k++)
		s += a[k] * b[k];
	return s;
}

/* y += s x */
static void axpy(float s, const float *x, float *y, size_t d)
{
	size_t k = 0;
	for (; k + 4 <= d; k += 4) {
		v4 v = load4(y + k) + s * load4(x + k);
		memcpy(y + k, &v, sizeof v);
	}
	for (; k < d; k++)
		y[k] += s * x[k];
}

/* y = M x = G x + alpha Br^T (Br x), Br the row's m rated rows of B
 * gathered (G symmetric: G x is a sum of G's rows) */
static void mul(const cg_part *p, const float *Br, size_t m, const float *x, float *y)
{
	size_t d = p->d;
	memset(y, 0, d * sizeof(float));
	for (size_t k = 0; k < d; k++)
		axpy(x[k], p->G + k * d, y, d);
	for (size_t j = 0; j < m; j++)
		axpy(p->alpha * dot(Br + j * d, x, d), Br + j * d, y, d);
}

static void solve_rows(const cg_part *p)
{
	size_t d = p->d;
	float *r = p->scratch, *q = r + d, *Mq = q + d;
	for (size_t row = p->r0; row < p->r1; row++) {
		size_t m = p->R->start[row + 1] - p->R->start[row];
		const int32_t *idx = p->R->col + p->R->start[row];
		float *a = p->A + row * d;
		if (m == 0) {
			memset(a, 0, d * sizeof(float));
			continue;
		}
		/* r = b - M a, b = (1 + alpha) sum of the rated rows */
		for (size_t j = 0; j < m; j++)
			memcpy(p->Br + j * d, p->B + (size_t)idx[j] * d, d * sizeof(float));
		mul(p, p->Br, m, a, Mq);
		for (size_t k = 0; k < d; k++)
			r[k] = -Mq[k];
		for (size_t j = 0; j < m; j++) {
			const float *b = p->Br + j * d;
			for (size_t k = 0; k < d; k++)
				r[k] += (1.0f + p->alpha) * b[k];
		}
		memcpy(q, r, d * sizeof(float));
		float rs = dot(r, r, d);
		for (int t = 0; t < p->steps && rs > 1e-20f; t++) {
			mul(p, p->Br, m, q, Mq);
			float qMq = dot(q, Mq, d);
			if (!(qMq > 0))
				break;
			float step = rs / qMq;
			for (size_t k = 0; k < d; k++) {
				a[k] += step * q[k];
				r[k] -= step * Mq[k];
			}
			float rs2 = dot(r, r, d);
			float beta = rs2 / rs;
			for (size_t k = 0; k < d; k++)
				q[k] = r[k] + beta * q[k];
			rs = rs2;
		}
	}
}

static void *solve_thread(void *arg)
{
	solve_rows(arg);
	return NULL;
}

#define MAX_PARTS 16

int ials_cg_half_sweep(const csr *R, float *A, const float *B, size_t nb, size_t d,
		       const ials_params *p, int threads, float *G, lf_error *err)
{
	cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)d, (int)nb, 1.0f, B, (int)d, 0.0f,
		    G, (int)d);
	for (size_t i = 0; i < d; i++) {
		G[i * d + i] += (float)p->reg;
		for (size_t k = i + 1; k < d; k++)
			G[k * d + i] = G[i * d + k];
	}
	int n = threads < 1 ? 1 : threads > MAX_PARTS ? MAX_PARTS : threads;
	cg_part parts[MAX_PARTS];
	size_t longest = 1;
	for (size_t r = 0; r < R->n_rows; r++)
		if (R->start[r + 1] - R->start[r] > longest)
			longest = R->start[r + 1] - R->start[r];
	size_t each = 4 * d + longest * d;
	float *scratch = lf_calloc((size_t)n * each, sizeof(float));
	if (!scratch)
		return lf_fail(err, EX_OSERR, "out of memory for iALS's CG steps");
	size_t r0 = 0;
	for (int t = 0; t < n; t++) {
		size_t r1 = csr_part_end(R, t, n, r0);
		float *mine = scratch + (size_t)t * each;
		parts[t] = (cg_part){.R = R,
				     .A = A,
				     .B = B,
				     .G = G,
				     .d = d,
				     .r0 = r0,
				     .r1 = r1,
				     .alpha = (float)p->alpha,
				     .steps = p->cg_steps,
				     .scratch = mine,
				     .Br = mine + 4 * d};
		r0 = r1;
	}
	run_parts(solve_thread, parts, sizeof parts[0], n);
	free(scratch);
	return 0;
}
