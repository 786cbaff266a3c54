/*
 * smf.c — see smf.h. Training loop of the softmax MF: per epoch a seeded
 * permutation of the users cut into batches; per batch one forward sgemm,
 * the row softmax in place (turned into the logits' gradient), two backward
 * sgemm, and Adam steps on P and Q (Q carries the biases). With a
 * validation set, NDCG@10 after each epoch picks the epoch count (early
 * stopping with patience).
 */
#include "smf.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "adam.h"
#include "ranking.h"
#include "rng.h"
#include "util.h"

#define INIT_SCALE 0.05 /* initial factors ~ N(0, 0.05^2), biases 0 */
#define VAL_K 10

typedef struct work {
	float *PB, *S, *dPB; /* m x w, m x n_items, m x w (w = dim + 1) */
} work;

static int work_init(work *w, size_t batch, size_t n_items, size_t width)
{
	w->PB = lf_calloc(batch * width, sizeof(float));
	w->dPB = lf_calloc(batch * width, sizeof(float));
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

/* The largest of s[0..n), eight running maxima so the loop pipelines. */
static float row_max(const float *s, size_t n)
{
	float m[8];
	size_t i = 0;
	for (int k = 0; k < 8; k++)
		m[k] = -INFINITY;
	for (; i + 8 <= n; i += 8)
		for (int k = 0; k < 8; k++)
			m[k] = s[i + k] > m[k] ? s[i + k] : m[k];
	for (; i < n; i++)
		m[0] = s[i] > m[0] ? s[i] : m[0];
	for (int k = 1; k < 8; k++)
		m[0] = m[k] > m[0] ? m[k] : m[0];
	return m[0];
}

/* exp(x) for x <= 0, 4 at a time: Cephes' expf (range reduction by ln 2 in
 * two parts, degree-6 polynomial, 2^n built in the exponent bits), about
 * 1 ulp; below -87 it returns ~0 instead of a denormal. */
#if defined(__SSE2__)
static inline __m128 exp4(__m128 x)
{
	x = _mm_max_ps(x, _mm_set1_ps(-87.0f));
	__m128i n = _mm_cvtps_epi32(_mm_mul_ps(x, _mm_set1_ps(1.44269504088896341f)));
	__m128 nf = _mm_cvtepi32_ps(n);
	__m128 r = _mm_sub_ps(x, _mm_mul_ps(nf, _mm_set1_ps(0.693359375f)));
	r = _mm_sub_ps(r, _mm_mul_ps(nf, _mm_set1_ps(-2.12194440e-4f)));
	__m128 p = _mm_set1_ps(1.9875691500e-4f);
	p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(1.3981999507e-3f));
	p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(8.3334519073e-3f));
	p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(4.1665795894e-2f));
	p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(1.6666665459e-1f));
	p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(5.0000001201e-1f));
	p = _mm_add_ps(_mm_add_ps(_mm_mul_ps(_mm_mul_ps(p, r), r), r), _mm_set1_ps(1.0f));
	__m128i bits = _mm_slli_epi32(_mm_add_epi32(n, _mm_set1_epi32(127)), 23);
	return _mm_mul_ps(p, _mm_castsi128_ps(bits));
}
#endif

/* exp(s - mx) in place; returns the sum. The softmax of every user of every
 * batch goes through here, hence the SSE2 path (plain expf elsewhere). */
static double exp_row(float *s, size_t n, float mx)
{
	size_t i = 0;
	double z = 0;
#if defined(__SSE2__)
	__m128 m = _mm_set1_ps(mx), acc = _mm_setzero_ps();
	for (; i + 4 <= n; i += 4) {
		__m128 e = exp4(_mm_sub_ps(_mm_loadu_ps(s + i), m));
		_mm_storeu_ps(s + i, e);
		acc = _mm_add_ps(acc, e);
	}
	float lanes[4];
	_mm_storeu_ps(lanes, acc);
	z = (double)lanes[0] + lanes[1] + lanes[2] + lanes[3];
#endif
	for (; i < n; i++) {
		s[i] = expf(s[i] - mx);
		z += s[i];
	}
	return z;
}

static double batch_grad(const smf_model *mdl, const csr *train, const float *weight,
			 const smf_params *p, const size_t *users, size_t m, float *gP, float *gQ,
			 work *w)
{
	size_t d = mdl->dim, wd = d + 1, ni = mdl->n_items;
	double loss = 0;
	for (size_t r = 0; r < m; r++)
		memcpy(w->PB + r * wd, mdl->P + users[r] * wd, wd * sizeof(float));
	/* logits with the bias: [p, 1] . [q, b] */
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)ni, (int)wd, 1.0f, w->PB,
		    (int)wd, mdl->Q, (int)wd, 0.0f, w->S, (int)ni);
	for (size_t r = 0; r < m; r++) {
		size_t u = users[r];
		float *s = w->S + r * ni;
		const int32_t *items = train->col + train->start[u];
		size_t n_u = train->start[u + 1] - train->start[u];
		float mx = row_max(s, ni);
		double target = 0;
		for (size_t t = 0; t < n_u; t++)
			target += s[items[t]];
		double z = exp_row(s, ni, mx);
		double lse = mx + log(z);
		double c = weight[u];
		const float *pu = w->PB + r * wd;
		double pn = cblas_sdot((int)d, pu, 1, pu, 1);
		loss += c * ((double)n_u * lse - target) + p->user_l2 * pn;
		/* dLoss/dlogits = c (n_u softmax - y) / m */
		cblas_sscal((int)ni, (float)(c * (double)n_u / (z * (double)m)), s, 1);
		float hit = (float)(c / (double)m);
		for (size_t t = 0; t < n_u; t++)
			s[items[t]] -= hit;
	}
	/* item penalty on [q, b], this batch's share of it */
	double qn = cblas_sdot((int)(ni * wd), mdl->Q, 1, mdl->Q, 1);
	loss += p->item_l2 * ((double)m / (double)mdl->n_users) * qn;

	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)wd, (int)ni, 1.0f, w->S,
		    (int)ni, mdl->Q, (int)wd, 0.0f, w->dPB, (int)wd);
	float ureg = (float)(2.0 * p->user_l2 / (double)m);
	for (size_t r = 0; r < m; r++) {
		float *g = gP + users[r] * wd;
		const float *pb = w->PB + r * wd, *dp = w->dPB + r * wd;
		for (size_t k = 0; k < d; k++)
			g[k] = dp[k] + ureg * pb[k];
		g[d] = 0.0f; /* the constant 1 stays 1 */
	}
	/* gQ = S^T PB (its last column: the bias gradient) + 2 item_l2 / n_users Q */
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ni, (int)wd, (int)m, 1.0f, w->S,
		    (int)ni, w->PB, (int)wd, 0.0f, gQ, (int)wd);
	cblas_saxpy((int)(ni * wd), (float)(2.0 * p->item_l2 / (double)mdl->n_users), mdl->Q, 1, gQ,
		    1);
	return loss / (double)m;
}

double smf_batch_grad(const smf_model *mdl, const csr *train, const float *weight,
		      const smf_params *p, const size_t *users, size_t m, float *gP, float *gQ)
{
	work w;
	if (work_init(&w, m, mdl->n_items, mdl->dim + 1) < 0) {
		work_free(&w);
		return NAN;
	}
	double loss = batch_grad(mdl, train, weight, p, users, m, gP, gQ, &w);
	work_free(&w);
	return loss;
}

int smf_val_ndcg(const smf_model *mdl, const csr *train, const csr *val, double *ndcg,
		 lf_error *err)
{
	size_t wd = mdl->dim + 1, ni = mdl->n_items, block = 256;
	rank_eval ev;
	if (rank_eval_init(&ev, VAL_K, ni, err) < 0)
		return -1;
	float *S = lf_calloc(block * ni, sizeof *S);
	if (!S) {
		rank_eval_free(&ev);
		return lf_fail(err, EX_OSERR, "out of memory for validation scores");
	}
	int32_t top[VAL_K];
	int rc = 0;
	for (size_t u0 = 0; u0 < mdl->n_users && rc == 0; u0 += block) {
		size_t m = mdl->n_users - u0 < block ? mdl->n_users - u0 : block;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)ni, (int)wd, 1.0f,
			    mdl->P + u0 * wd, (int)wd, mdl->Q, (int)wd, 0.0f, S, (int)ni);
		for (size_t r = 0; r < m; r++) {
			size_t u = u0 + r;
			size_t nv = val->start[u + 1] - val->start[u];
			if (nv == 0)
				continue;
			float *s = S + r * ni;
			for (size_t t = train->start[u]; t < train->start[u + 1]; t++)
				s[train->col[t]] = -INFINITY;
			if (rank_topk(s, ni, VAL_K, top) < 0) {
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
	size_t wd = dim + 1;
	memset(mdl, 0, sizeof *mdl);
	mdl->n_users = n_users;
	mdl->n_items = n_items;
	mdl->dim = dim;
	mdl->P = lf_calloc(n_users * wd, sizeof(float));
	mdl->Q = lf_calloc(n_items * wd, sizeof(float));
	if (!mdl->P || !mdl->Q)
		return -1;
	rng g;
	rng_seed(&g, seed);
	for (size_t u = 0; u < n_users; u++) {
		for (size_t k = 0; k < dim; k++)
			mdl->P[u * wd + k] = (float)(rng_normal(&g) * INIT_SCALE);
		mdl->P[u * wd + dim] = 1.0f;
	}
	for (size_t i = 0; i < n_items; i++)
		for (size_t k = 0; k < dim; k++) /* biases start at 0 */
			mdl->Q[i * wd + k] = (float)(rng_normal(&g) * INIT_SCALE);
	return 0;
}

void smf_free(smf_model *m)
{
	free(m->P);
	free(m->Q);
	memset(m, 0, sizeof *m);
}

typedef struct opt {
	adam aP, aQ;
	float *gP, *gQ, *weight;
	float *eP, *eQ; /* moving averages of P and Q (NULL when ema is 0) */
	size_t *order;
	work w;
} opt;

static void opt_free(opt *o)
{
	adam_free(&o->aP);
	adam_free(&o->aQ);
	free(o->gP);
	free(o->gQ);
	free(o->weight);
	free(o->eP);
	free(o->eQ);
	free(o->order);
	work_free(&o->w);
}

/* avg = decay * avg + (1 - decay) * x */
static void ema_update(float *restrict avg, const float *restrict x, size_t n, float decay)
{
	float keep = 1.0f - decay;
	for (size_t j = 0; j < n; j++)
		avg[j] = decay * avg[j] + keep * x[j];
}

int smf_train(const csr *train, size_t n_items, const smf_params *p, smf_run *run, smf_model *out,
	      lf_error *err)
{
	size_t nu = train->n_rows, wd = p->dim + 1;
	size_t batch = p->batch_users < nu ? p->batch_users : nu;
	opt o;
	memset(&o, 0, sizeof o);
	if (model_init(out, nu, n_items, p->dim, p->seed) < 0 ||
	    adam_init(&o.aP, nu * wd, p->lr) < 0 || adam_init(&o.aQ, n_items * wd, p->lr) < 0 ||
	    !(o.gP = lf_calloc(nu * wd, sizeof(float))) ||
	    !(o.gQ = lf_calloc(n_items * wd, sizeof(float))) ||
	    !(o.weight = lf_calloc(nu, sizeof(float))) ||
	    !(o.order = lf_calloc(nu, sizeof(size_t))) || work_init(&o.w, batch, n_items, wd) < 0) {
		opt_free(&o);
		smf_free(out);
		return lf_fail(err, EX_OSERR, "out of memory for a %zu x %zu model",
			       nu + n_items, wd);
	}
	if (p->ema > 0) {
		o.eP = lf_calloc(nu * wd, sizeof(float));
		o.eQ = lf_calloc(n_items * wd, sizeof(float));
		if (!o.eP || !o.eQ) {
			opt_free(&o);
			smf_free(out);
			return lf_fail(err, EX_OSERR, "out of memory for the weight averages");
		}
		memcpy(o.eP, out->P, nu * wd * sizeof(float));
		memcpy(o.eQ, out->Q, n_items * wd * sizeof(float));
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
			memset(o.gP, 0, nu * wd * sizeof(float));
			double loss = batch_grad(out, train, o.weight, p, o.order + at, m, o.gP,
						 o.gQ, &o.w);
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
			if (o.eP) {
				ema_update(o.eP, out->P, nu * wd, (float)p->ema);
				ema_update(o.eQ, out->Q, n_items * wd, (float)p->ema);
			}
		}
		double val = NAN;
		int stop = 0;
		if (run->val) {
			smf_model avg = *out;
			if (o.eP)
				avg.P = o.eP, avg.Q = o.eQ;
			if (smf_val_ndcg(&avg, train, run->val, &val, err) < 0) {
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
			run->cb(run->ctx, run->stage, epoch, run->max_epochs, total / (double)nu,
				val, now_seconds() - t0);
		if (run->after) {
			smf_model avg = *out;
			if (o.eP)
				avg.P = o.eP, avg.Q = o.eQ;
			stop |= run->after(run->actx, epoch, &avg, run->chosen);
		}
		if (stop)
			break;
	}
	if (o.eP) { /* the averaged weights are the model */
		memcpy(out->P, o.eP, nu * wd * sizeof(float));
		memcpy(out->Q, o.eQ, n_items * wd * sizeof(float));
	}
	opt_free(&o);
	return 0;
}
