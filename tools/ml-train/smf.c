/*
 * smf.c — see smf.h. Training loop of the softmax MF: per epoch a seeded
 * permutation of the users cut into batches; per batch one forward sgemm,
 * the row softmax in place (turned into the logits' gradient), two backward
 * sgemm, and Adam steps on P, Q and b. With a validation set, NDCG@10 after
 * each epoch picks the epoch count (early stopping with patience).
 */
#include "smf.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adam.h"
#include "metrics.h"
#include "rng.h"
#include "util.h"

#define INIT_SCALE 0.05 /* initial factors ~ N(0, 0.05^2), biases 0 */
#define VAL_K 10

typedef struct work {
	float *PB, *S, *dPB; /* m x dim, m x n_items, m x dim */
} work;

static int work_init(work *w, size_t batch, size_t n_items, size_t dim)
{
	w->PB = lf_calloc(batch * dim, sizeof(float));
	w->dPB = lf_calloc(batch * dim, sizeof(float));
	w->S = lf_calloc(batch * n_items, sizeof(float));
	return w->PB && w->dPB && w->S ? 0 : -1;
}

static void work_free(work *w)
{
	free(w->PB);
	free(w->dPB);
	free(w->S);
}

int smf_user_weights(const csr *train, double alpha, float *w, double *norm)
{
	double sum = 0;
	for (size_t u = 0; u < train->n_rows; u++) {
		size_t n = train->start[u + 1] - train->start[u];
		double raw = pow(n ? (double)n : 1.0, -alpha);
		w[u] = (float)raw;
		sum += raw;
	}
	*norm = train->n_rows ? sum / (double)train->n_rows : 1.0;
	for (size_t u = 0; u < train->n_rows; u++)
		w[u] = (float)((double)w[u] / *norm);
	return 0;
}

/* exp(x - mx) over a row into place; returns the sum. The loop has no calls
 * but expf, which glibc makes fast; kept simple and exact. */
static double exp_row(float *s, size_t n, float mx)
{
	double z = 0;
	for (size_t i = 0; i < n; i++) {
		s[i] = expf(s[i] - mx);
		z += s[i];
	}
	return z;
}

static double batch_grad(const smf_model *mdl, const csr *train, const float *weight,
			 const smf_params *p, const size_t *users, size_t m, float *gP,
			 float *gQ, float *gb, work *w)
{
	size_t d = mdl->dim, ni = mdl->n_items;
	double loss = 0;
	for (size_t r = 0; r < m; r++)
		memcpy(w->PB + r * d, mdl->P + users[r] * d, d * sizeof(float));
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)ni, (int)d, 1.0f, w->PB,
		    (int)d, mdl->Q, (int)d, 0.0f, w->S, (int)ni);
	for (size_t r = 0; r < m; r++) {
		size_t u = users[r];
		float *s = w->S + r * ni;
		const int32_t *items = train->col + train->start[u];
		size_t n_u = train->start[u + 1] - train->start[u];
		float mx = -INFINITY;
		for (size_t i = 0; i < ni; i++) {
			s[i] += mdl->b[i];
			if (s[i] > mx)
				mx = s[i];
		}
		double target = 0;
		for (size_t t = 0; t < n_u; t++)
			target += s[items[t]];
		double z = exp_row(s, ni, mx);
		double lse = mx + log(z);
		double c = weight[u];
		const float *pu = mdl->P + u * d;
		double pn = 0;
		for (size_t k = 0; k < d; k++)
			pn += (double)pu[k] * pu[k];
		loss += c * ((double)n_u * lse - target) + p->user_l2 * pn;
		/* dLoss/dlogits = c (n_u softmax - y) / m */
		float scale = (float)(c * (double)n_u / (z * (double)m));
		float hit = (float)(c / (double)m);
		for (size_t i = 0; i < ni; i++)
			s[i] *= scale;
		for (size_t t = 0; t < n_u; t++)
			s[items[t]] -= hit;
	}
	double qn = 0;
	for (size_t j = 0; j < ni * d; j++)
		qn += (double)mdl->Q[j] * mdl->Q[j];
	for (size_t i = 0; i < ni; i++)
		qn += (double)mdl->b[i] * mdl->b[i];
	double share = (double)m / (double)mdl->n_users;
	loss += p->item_l2 * share * qn;

	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)d, (int)ni, 1.0f, w->S,
		    (int)ni, mdl->Q, (int)d, 0.0f, w->dPB, (int)d);
	float ureg = (float)(2.0 * p->user_l2 / (double)m);
	for (size_t r = 0; r < m; r++) {
		float *g = gP + users[r] * d;
		const float *pb = w->PB + r * d, *dp = w->dPB + r * d;
		for (size_t k = 0; k < d; k++)
			g[k] = dp[k] + ureg * pb[k];
	}
	float ireg = (float)(2.0 * p->item_l2 / (double)mdl->n_users);
	/* gQ = ireg * Q + S^T PB */
	for (size_t j = 0; j < ni * d; j++)
		gQ[j] = ireg * mdl->Q[j];
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ni, (int)d, (int)m, 1.0f, w->S,
		    (int)ni, w->PB, (int)d, 1.0f, gQ, (int)d);
	for (size_t i = 0; i < ni; i++)
		gb[i] = ireg * mdl->b[i];
	for (size_t r = 0; r < m; r++) {
		const float *s = w->S + r * ni;
		for (size_t i = 0; i < ni; i++)
			gb[i] += s[i];
	}
	return loss / (double)m;
}

double smf_batch_grad(const smf_model *mdl, const csr *train, const float *weight,
		      const smf_params *p, const size_t *users, size_t m, float *gP, float *gQ,
		      float *gb)
{
	work w;
	if (work_init(&w, m, mdl->n_items, mdl->dim) < 0) {
		work_free(&w);
		return NAN;
	}
	double loss = batch_grad(mdl, train, weight, p, users, m, gP, gQ, gb, &w);
	work_free(&w);
	return loss;
}

int smf_val_ndcg(const smf_model *mdl, const csr *train, const csr *val, double *ndcg,
		 lf_error *err)
{
	size_t d = mdl->dim, ni = mdl->n_items, block = 256;
	rank_eval ev;
	if (rank_eval_init(&ev, VAL_K, ni, err) < 0)
		return -1;
	float *S = lf_calloc(block * ni, sizeof *S);
	if (!S) {
		rank_eval_free(&ev);
		return lf_fail(err, EX_SOFTWARE, "out of memory for validation scores");
	}
	int32_t top[VAL_K];
	int rc = 0;
	for (size_t u0 = 0; u0 < mdl->n_users && rc == 0; u0 += block) {
		size_t m = mdl->n_users - u0 < block ? mdl->n_users - u0 : block;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)ni, (int)d, 1.0f,
			    mdl->P + u0 * d, (int)d, mdl->Q, (int)d, 0.0f, S, (int)ni);
		for (size_t r = 0; r < m; r++) {
			size_t u = u0 + r;
			size_t nv = val->start[u + 1] - val->start[u];
			if (nv == 0)
				continue;
			float *s = S + r * ni;
			for (size_t i = 0; i < ni; i++)
				s[i] += mdl->b[i];
			for (size_t t = train->start[u]; t < train->start[u + 1]; t++)
				s[train->col[t]] = -INFINITY;
			if (topk_select(s, ni, VAL_K, top) < 0) {
				rc = lf_fail(err, EX_SOFTWARE,
					     "the model's scores are not finite; lower --lr");
				break;
			}
			rank_eval_add(&ev, top, val->col + val->start[u], nv, nv);
		}
	}
	*ndcg = rank_eval_result(&ev).ndcg;
	free(S);
	rank_eval_free(&ev);
	return rc;
}

static int model_init(smf_model *mdl, size_t n_users, size_t n_items, size_t dim, uint64_t seed)
{
	memset(mdl, 0, sizeof *mdl);
	mdl->n_users = n_users;
	mdl->n_items = n_items;
	mdl->dim = dim;
	mdl->P = lf_calloc(n_users * dim, sizeof(float));
	mdl->Q = lf_calloc(n_items * dim, sizeof(float));
	mdl->b = lf_calloc(n_items, sizeof(float));
	if (!mdl->P || !mdl->Q || !mdl->b)
		return -1;
	rng g;
	rng_seed(&g, seed);
	for (size_t j = 0; j < n_users * dim; j++)
		mdl->P[j] = (float)(rng_normal(&g) * INIT_SCALE);
	for (size_t j = 0; j < n_items * dim; j++)
		mdl->Q[j] = (float)(rng_normal(&g) * INIT_SCALE);
	return 0;
}

void smf_free(smf_model *m)
{
	free(m->P);
	free(m->Q);
	free(m->b);
	memset(m, 0, sizeof *m);
}

typedef struct opt {
	adam aP, aQ, ab;
	float *gP, *gQ, *gb, *weight;
	size_t *order;
	work w;
} opt;

static void opt_free(opt *o)
{
	adam_free(&o->aP);
	adam_free(&o->aQ);
	adam_free(&o->ab);
	free(o->gP);
	free(o->gQ);
	free(o->gb);
	free(o->weight);
	free(o->order);
	work_free(&o->w);
}

int smf_train(const csr *train, size_t n_items, const smf_params *p, smf_run *run,
	      smf_model *out, lf_error *err)
{
	size_t nu = train->n_rows, d = p->dim;
	size_t batch = p->batch_users < nu ? p->batch_users : nu;
	opt o;
	memset(&o, 0, sizeof o);
	if (model_init(out, nu, n_items, d, p->seed) < 0 || adam_init(&o.aP, nu * d, p->lr) < 0 ||
	    adam_init(&o.aQ, n_items * d, p->lr) < 0 || adam_init(&o.ab, n_items, p->lr) < 0 ||
	    !(o.gP = lf_calloc(nu * d, sizeof(float))) ||
	    !(o.gQ = lf_calloc(n_items * d, sizeof(float))) ||
	    !(o.gb = lf_calloc(n_items, sizeof(float))) ||
	    !(o.weight = lf_calloc(nu, sizeof(float))) ||
	    !(o.order = lf_calloc(nu, sizeof(size_t))) || work_init(&o.w, batch, n_items, d) < 0) {
		opt_free(&o);
		smf_free(out);
		return lf_fail(err, EX_SOFTWARE, "out of memory for a %zu x %zu model", nu + n_items,
			       d);
	}
	smf_user_weights(train, p->alpha, o.weight, &out->weight_norm);
	rng shuffle;
	rng_seed(&shuffle, p->seed ^ 0x5deece66dULL);
	run->chosen = run->max_epochs;
	run->best_val = NAN;
	int since_best = 0;
	for (int epoch = 1; epoch <= run->max_epochs; epoch++) {
		double t0 = now_seconds(), total = 0;
		for (size_t u = 0; u < nu; u++)
			o.order[u] = u;
		rng_shuffle(&shuffle, o.order, nu, sizeof *o.order);
		for (size_t at = 0; at < nu; at += batch) {
			size_t m = nu - at < batch ? nu - at : batch;
			memset(o.gP, 0, nu * d * sizeof(float));
			double loss = batch_grad(out, train, o.weight, p, o.order + at, m, o.gP, o.gQ,
						 o.gb, &o.w);
			if (!isfinite(loss)) {
				opt_free(&o);
				smf_free(out);
				return lf_fail(err, EX_SOFTWARE,
					       "training diverged at epoch %d (loss not finite); "
					       "lower --lr",
					       epoch);
			}
			total += loss * (double)m;
			adam_step(&o.aP, out->P, o.gP);
			adam_step(&o.aQ, out->Q, o.gQ);
			adam_step(&o.ab, out->b, o.gb);
		}
		double val = NAN;
		int stop = 0;
		if (run->val) {
			if (smf_val_ndcg(out, train, run->val, &val, err) < 0) {
				opt_free(&o);
				smf_free(out);
				return -1;
			}
			if (epoch == 1 || val > run->best_val) {
				run->best_val = val;
				run->chosen = epoch;
				since_best = 0;
			} else if (++since_best >= p->patience) {
				stop = 1;
			}
		}
		if (run->cb)
			run->cb(run->ctx, run->stage, epoch, run->max_epochs, total / (double)nu, val,
				now_seconds() - t0);
		if (stop)
			break;
	}
	opt_free(&o);
	return 0;
}
