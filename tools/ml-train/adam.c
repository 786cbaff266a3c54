/*
 * adam.c — see adam.h. It runs over every parameter of the model each
 * batch, so it is written four floats at a time with SSE2 (every x86-64 has
 * it): the compiler will not vectorise sqrtf itself while errno may be set.
 * The scalar tail and other machines run the same arithmetic.
 */
#include "adam.h"

#include <math.h>
#include <stdlib.h>
#if defined(__SSE2__)
#include <immintrin.h>
#endif

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

void adam_step(adam *a, float *restrict param, const float *restrict grad)
{
	a->t++;
	double bc1 = 1.0 - pow(a->beta1, (double)a->t);
	double bc2 = 1.0 - pow(a->beta2, (double)a->t);
	const float b1 = (float)a->beta1, b2 = (float)a->beta2;
	const float c1 = 1.0f - b1, c2 = 1.0f - b2;
	const float step = (float)(a->lr / bc1), inv_root_bc2 = (float)(1.0 / sqrt(bc2));
	const float eps = (float)a->eps;
	float *restrict m = a->m, *restrict v = a->v;
	size_t j = 0;
#if defined(__SSE2__)
	const __m128 vb1 = _mm_set1_ps(b1), vb2 = _mm_set1_ps(b2), vc1 = _mm_set1_ps(c1),
		     vc2 = _mm_set1_ps(c2), vstep = _mm_set1_ps(step),
		     vroot = _mm_set1_ps(inv_root_bc2), veps = _mm_set1_ps(eps);
	for (; j + 4 <= a->n; j += 4) {
		__m128 g = _mm_loadu_ps(grad + j);
		__m128 mj = _mm_add_ps(_mm_mul_ps(vb1, _mm_loadu_ps(m + j)), _mm_mul_ps(vc1, g));
		__m128 vj = _mm_add_ps(_mm_mul_ps(vb2, _mm_loadu_ps(v + j)),
				       _mm_mul_ps(_mm_mul_ps(vc2, g), g));
		_mm_storeu_ps(m + j, mj);
		_mm_storeu_ps(v + j, vj);
		__m128 den = _mm_add_ps(_mm_mul_ps(_mm_sqrt_ps(vj), vroot), veps);
		__m128 p =
			_mm_sub_ps(_mm_loadu_ps(param + j), _mm_div_ps(_mm_mul_ps(vstep, mj), den));
		_mm_storeu_ps(param + j, p);
	}
#endif
	for (; j < a->n; j++) {
		float g = grad[j];
		m[j] = b1 * m[j] + c1 * g;
		v[j] = b2 * v[j] + (c2 * g) * g;
		param[j] -= (step * m[j]) / (sqrtf(v[j]) * inv_root_bc2 + eps);
	}
}

void adam_free(adam *a)
{
	free(a->m);
	free(a->v);
	a->m = a->v = NULL;
}
