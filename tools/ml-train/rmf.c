/*
 * rmf.c — see rmf.h. Each epoch shuffles all ratings with a seeded
 * generator and walks them in batches; gradients are accumulated densely
 * (rows outside the batch get zero) and every parameter takes an Adam step,
 * which is what the tuned Python head did. Early stopping keeps the epoch
 * with the lowest validation RMSE.
 */
#include "rmf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adam.h"
#include "rng.h"
#include "util.h"

#define INIT_SCALE 0.01

void rmf_free(rmf_model *m)
{
	free(m->X); /* the one block holding X, Y, bu and bi */
	memset(m, 0, sizeof *m);
}

static float dotf(const float *a, const float *b, size_t d)
{
	float s = 0;
	for (size_t k = 0; k < d; k++)
		s += a[k] * b[k];
	return s;
}

static double raw_predict(const rmf_model *m, size_t u, size_t i)
{
	return m->mean + m->bu[u] + m->bi[i] + dotf(m->X + u * m->dim, m->Y + i * m->dim, m->dim);
}

double rmf_predict(const rmf_model *m, size_t u, size_t i)
{
	double r = raw_predict(m, u, i);
	return r < 1.0 ? 1.0 : r > 5.0 ? 5.0 : r;
}

double rmf_rmse(const rmf_model *m, const csr *val)
{
	double sse = 0;
	for (size_t u = 0; u < val->n_rows; u++)
		for (size_t t = val->start[u]; t < val->start[u + 1]; t++) {
			double e = rmf_predict(m, u, (size_t)val->col[t]) - val->val[t];
			sse += e * e;
		}
	return val->n ? sqrt(sse / (double)val->n) : NAN;
}

typedef struct rmf_state {
	float *params; /* one block: X | Y | bu | bi (the model points into it) */
	float *grad;
	adam a;
	uint32_t *user, *item; /* per rating */
	size_t *order;
} rmf_state;

static void state_free(rmf_state *s)
{
	free(s->grad);
	adam_free(&s->a);
	free(s->user);
	free(s->item);
	free(s->order);
}

int rmf_train(const csr *train, size_t n_items, const rmf_params *p, rmf_run *run,
	      rmf_model *out, lf_error *err)
{
	size_t nu = train->n_rows, d = p->dim, n = train->n;
	size_t total = (nu + n_items) * (d + 1);
	rmf_state s;
	memset(&s, 0, sizeof s);
	memset(out, 0, sizeof *out);
	s.params = lf_calloc(total, sizeof(float));
	s.grad = lf_calloc(total, sizeof(float));
	s.user = lf_calloc(n, sizeof *s.user);
	s.item = lf_calloc(n, sizeof *s.item);
	s.order = lf_calloc(n, sizeof *s.order);
	if (!s.params || !s.grad || !s.user || !s.item || !s.order ||
	    adam_init(&s.a, total, p->lr) < 0) {
		free(s.params);
		state_free(&s);
		return lf_fail(err, EX_SOFTWARE, "out of memory for the rating head");
	}
	out->n_users = nu;
	out->n_items = n_items;
	out->dim = d;
	out->X = s.params;
	out->Y = out->X + nu * d;
	out->bu = out->Y + n_items * d;
	out->bi = out->bu + nu;
	float *gX = s.grad, *gY = gX + nu * d, *gbu = gY + n_items * d, *gbi = gbu + nu;
	double sum = 0;
	for (size_t u = 0; u < nu; u++)
		for (size_t t = train->start[u]; t < train->start[u + 1]; t++) {
			s.user[t] = (uint32_t)u;
			s.item[t] = (uint32_t)train->col[t];
			sum += train->val[t];
		}
	out->mean = n ? sum / (double)n : 3.0;
	rng g;
	rng_seed(&g, p->seed);
	for (size_t j = 0; j < nu * d; j++)
		out->X[j] = (float)(rng_normal(&g) * INIT_SCALE);
	for (size_t j = 0; j < n_items * d; j++)
		out->Y[j] = (float)(rng_normal(&g) * INIT_SCALE);
	/* the best epoch's parameters are kept here when validating */
	float *best = NULL;
	if (run->val && !(best = lf_calloc(total, sizeof(float)))) {
		rmf_free(out);
		state_free(&s);
		return lf_fail(err, EX_SOFTWARE, "out of memory for the rating head");
	}
	run->chosen = run->max_epochs;
	run->best_val = NAN;
	int since_best = 0;
	for (int epoch = 1; epoch <= run->max_epochs; epoch++) {
		double t0 = now_seconds(), sse = 0;
		for (size_t j = 0; j < n; j++)
			s.order[j] = j;
		rng_shuffle(&g, s.order, n, sizeof *s.order);
		for (size_t at = 0; at < n; at += p->batch) {
			size_t m = n - at < p->batch ? n - at : p->batch;
			float inv = 2.0f / (float)m, l2 = (float)p->l2;
			memset(s.grad, 0, total * sizeof(float));
			for (size_t j = at; j < at + m; j++) {
				size_t t = s.order[j], u = s.user[t], i = s.item[t];
				float *x = out->X + u * d, *y = out->Y + i * d;
				float e = (float)(raw_predict(out, u, i) - train->val[t]);
				sse += (double)e * e;
				float *gx = gX + u * d, *gy = gY + i * d;
				for (size_t k = 0; k < d; k++) {
					gx[k] += inv * (e * y[k] + l2 * x[k]);
					gy[k] += inv * (e * x[k] + l2 * y[k]);
				}
				gbu[u] += inv * (e + l2 * out->bu[u]);
				gbi[i] += inv * (e + l2 * out->bi[i]);
			}
			adam_step(&s.a, s.params, s.grad);
		}
		double val = NAN;
		int stop = 0;
		if (run->val) {
			val = rmf_rmse(out, run->val);
			if (epoch == 1 || val < run->best_val) {
				run->best_val = val;
				run->chosen = epoch;
				since_best = 0;
				memcpy(best, s.params, total * sizeof(float));
			} else if (++since_best >= p->patience) {
				stop = 1;
			}
		}
		if (run->cb)
			run->cb(run->ctx, run->stage, epoch, run->max_epochs, n ? sse / (double)n : 0,
				val, now_seconds() - t0);
		if (stop)
			break;
	}
	if (best) {
		memcpy(s.params, best, total * sizeof(float));
		free(best);
	}
	state_free(&s);
	return 0;
}
