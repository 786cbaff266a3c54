/*
 * sparse.c — see sparse.h. Each output row is summed in row order by one
 * thread alone, so the bytes are the same for every thread count.
 */
#include "sparse.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int csr_transpose(const csr *m, size_t cols, csr *t)
{
	memset(t, 0, sizeof *t);
	t->n_rows = cols;
	t->n = m->n;
	t->start = lf_calloc(cols + 1, sizeof *t->start);
	t->col = lf_calloc(m->n ? m->n : 1, sizeof *t->col);
	size_t *fill = lf_calloc(cols ? cols : 1, sizeof *fill);
	if (!t->start || !t->col || !fill) {
		free(fill);
		csr_free(t);
		return -1;
	}
	for (size_t j = 0; j < m->n; j++)
		t->start[(size_t)m->col[j] + 1]++;
	for (size_t c = 0; c < cols; c++)
		t->start[c + 1] += t->start[c];
	for (size_t r = 0; r < m->n_rows; r++)
		for (size_t j = m->start[r]; j < m->start[r + 1]; j++) {
			size_t c = (size_t)m->col[j];
			t->col[t->start[c] + fill[c]++] = (int32_t)r;
		}
	free(fill);
	return 0;
}

typedef struct part {
	const csr *X;
	const float *B;
	size_t w, r0, r1;
	float *Y;
} part;

static void rows(const part *p)
{
	size_t w = p->w;
	for (size_t r = p->r0; r < p->r1; r++) {
		float *y = p->Y + r * w;
		memset(y, 0, w * sizeof(float));
		for (size_t j = p->X->start[r]; j < p->X->start[r + 1]; j++) {
			const float *b = p->B + (size_t)p->X->col[j] * w;
			for (size_t k = 0; k < w; k++)
				y[k] += b[k];
		}
	}
}

static void *rows_thread(void *arg)
{
	rows(arg);
	return NULL;
}

#define MAX_PARTS 16

size_t csr_part_end(const csr *X, int t, int n, size_t r0)
{
	if (t == n - 1)
		return X->n_rows;
	/* rows up to the t+1-th share of the ratings (plus one per row) */
	size_t goal = (X->n + X->n_rows) * (size_t)(t + 1) / (size_t)n, r1 = r0;
	while (r1 < X->n_rows && X->start[r1] + r1 < goal)
		r1++;
	return r1;
}

void run_parts(void *(*fn)(void *), void *parts, size_t size, int n)
{
	enum { MAX_THREADS = 64 }; /* parts past it run on this thread */
	pthread_t th[MAX_THREADS];
	int started[MAX_THREADS] = {0};
	char *at = parts;
	int nt = n < MAX_THREADS ? n : MAX_THREADS;
	for (int t = 1; t < nt; t++)
		started[t] = pthread_create(&th[t], NULL, fn, at + (size_t)t * size) == 0;
	fn(at);
	for (int t = 1; t < n; t++)
		if (t >= nt || !started[t])
			fn(at + (size_t)t * size);
	for (int t = 1; t < nt; t++)
		if (started[t])
			pthread_join(th[t], NULL);
}

void spmm(const csr *X, const float *B, size_t w, float *Y, int threads)
{
	int n = threads < 1 ? 1 : threads > MAX_PARTS ? MAX_PARTS : threads;
	part p[MAX_PARTS] = {{0}};
	size_t r = 0;
	for (int t = 0; t < n; t++) {
		size_t r1 = csr_part_end(X, t, n, r);
		p[t] = (part){X, B, w, r, r1, Y};
		r = r1;
	}
	run_parts(rows_thread, p, sizeof p[0], n);
}
