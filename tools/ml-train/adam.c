/*
 * adam.c — see adam.h. The loop is plain float arithmetic on restrict
 * pointers so the compiler can vectorise it; it runs over every parameter of
 * the model each batch.
 */
#include "adam.h"

#include <math.h>
#include <stdlib.h>

#include "util.h"

int adam_init(adam *a, size_t n, double lr)
{
	a->n = n;
	a->lr = lr;
	a->beta1 = 0.9;
	a->beta2 = 0.999;
	a->eps = 1e-8;
	a->t = 0;
	a->m = lf_calloc(n ? n : 1, sizeof *a->m);
	a->v = lf_calloc(n ? n : 1, sizeof *a->v);
	if (!a->m || !a->v) {
		adam_free(a);
		return -1;
	}
	return 0;
}

__attribute__((optimize("tree-vectorize", "no-math-errno")))
void adam_step(adam *a, float *restrict param, const float *restrict grad)
{
	a->t++;
	double bc1 = 1.0 - pow(a->beta1, (double)a->t);
	double bc2 = 1.0 - pow(a->beta2, (double)a->t);
	const float b1 = (float)a->beta1, b2 = (float)a->beta2;
	const float c1 = 1.0f - b1, c2 = 1.0f - b2;
	const float step = (float)(a->lr / bc1), root_bc2 = (float)sqrt(bc2);
	const float eps = (float)a->eps;
	float *restrict m = a->m, *restrict v = a->v;
	for (size_t j = 0; j < a->n; j++) {
		float g = grad[j];
		m[j] = b1 * m[j] + c1 * g;
		v[j] = b2 * v[j] + c2 * g * g;
		param[j] -= step * m[j] / (sqrtf(v[j]) / root_bc2 + eps);
	}
}

void adam_free(adam *a)
{
	free(a->m);
	free(a->v);
	a->m = a->v = NULL;
}
