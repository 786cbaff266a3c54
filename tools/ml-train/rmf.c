/*
 * rmf.c — see rmf.h. One sweep: the users' implicit z (hyperparameters,
 * then each z_j), user hyperparameters, users, the same for the movies,
 * then the noise scales and precision. Each entity's conditional is a
 * Gaussian with precision A = diag(lambda) + alpha * sum f f^T over its
 * ratings (f = the other side's [factors, 1]); it is drawn as
 * A^-1 rhs + L^-T z with A = L L^T (Cholesky, doubles, (d+1)^2 per rating).
 */
#include "rmf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "util.h"

/* hyperprior: Gamma(A0, B0) on precisions, N(0, 1/(G0 lambda)) on means */
#define A0 1.0
#define B0 1.0
#define G0 1.0

void rmf_free(rmf_model *m)
{
	free(m->X); /* the one block holding X, Y, bu and bi */
	memset(m, 0, sizeof *m);
}

static double dot_f(const float *a, const float *b, size_t d)
{
	double s = 0;
	for (size_t k = 0; k < d; k++)
		s += (double)a[k] * b[k];
	return s;
}

double rmf_predict(const rmf_model *m, size_t u, size_t i)
{
	double r =
		m->mean + m->bu[u] + m->bi[i] + dot_f(m->X + u * m->dim, m->Y + i * m->dim, m->dim);
	return r < m->lo ? m->lo : r > 5.0 ? 5.0 : r;
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

/* Gamma(shape >= 1, rate) by Marsaglia & Tsang. */
static double gamma_draw(rng *g, double shape, double rate)
{
	double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
	for (;;) {
		double x = rng_normal(g), v = 1.0 + c * x;
		if (v <= 0)
			continue;
		v = v * v * v;
		double u = rng_uniform(g);
		if (u < 1.0 - 0.0331 * x * x * x * x ||
		    log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
			return d * v / rate;
	}
}

/* The prior's means and precisions per column of theta (n rows, w wide). */
static void draw_hyper(rng *g, const double *theta, size_t n, size_t w, double *mu, double *lam)
{
	for (size_t k = 0; k < w; k++) {
		double sum = 0, ss = 0;
		for (size_t r = 0; r < n; r++)
			sum += theta[r * w + k];
		for (size_t r = 0; r < n; r++) {
			double e = theta[r * w + k] - mu[k];
			ss += e * e;
		}
		lam[k] = gamma_draw(g, A0 + ((double)n + 1.0) / 2.0,
				    B0 + (ss + G0 * mu[k] * mu[k]) / 2.0);
		double prec = ((double)n + G0) * lam[k];
		mu[k] = sum / ((double)n + G0) + rng_normal(g) / sqrt(prec);
	}
}

/* Draws th ~ N(A^-1 rhs, A^-1) for the w x w precision A (lower triangle
 * filled; overwritten by its Cholesky factor, rhs by L^-1 rhs; z: w). */
static void gauss_draw(rng *g, double *A, double *rhs, double *z, size_t w, double *th)
{
	/* Cholesky A = L L^T in the lower triangle */
	for (size_t j = 0; j < w; j++) {
		double s2 = A[j * w + j];
		for (size_t k = 0; k < j; k++)
			s2 -= A[j * w + k] * A[j * w + k];
		double l = sqrt(s2 > 1e-12 ? s2 : 1e-12);
		A[j * w + j] = l;
		for (size_t i = j + 1; i < w; i++) {
			double v = A[i * w + j];
			for (size_t k = 0; k < j; k++)
				v -= A[i * w + k] * A[j * w + k];
			A[i * w + j] = v / l;
		}
	}
	/* mean: L L^T m = rhs; sample: m + L^-T z */
	for (size_t i = 0; i < w; i++) {
		double v = rhs[i];
		for (size_t k = 0; k < i; k++)
			v -= A[i * w + k] * rhs[k];
		rhs[i] = v / A[i * w + i];
	}
	for (size_t i = 0; i < w; i++)
		z[i] = rng_normal(g) + rhs[i];
	for (size_t i = w; i-- > 0;) {
		double v = z[i];
		for (size_t k = i + 1; k < w; k++)
			v -= A[k * w + i] * th[k];
		th[i] = v / A[i * w + i];
	}
}

typedef struct side {
	size_t n, w;	      /* entities, width d + 1 */
	const size_t *start;  /* ratings of entity e: [start[e], start[e+1]) */
	const int32_t *other; /* the other side's entity of each rating */
	const float *val;
	double *theta; /* n x w: [factors, bias] */
	double *tau;   /* n: noise precision scale of each entity (mean ~1) */
	double mu[64 + 1], lam[64 + 1];
} side;

/* The Gibbs steps below are inlined twice: for the default rating head's
 * factor count (DIM_FIXED), where d is a constant the compiler unrolls, and
 * for any other. Same operations in the same order: the same samples. */
#define DIM_FIXED 6
#define ALWAYS_INLINE inline __attribute__((always_inline))

/* Draws every entity of s given the other side o. A and work: w*w, w.
 * off (n x d, or NULL): a fixed part of each entity's factors (the users'
 * implicit sums), so the draw is of theta's share: y -= off_e . f. */
static ALWAYS_INLINE void draw_side_d(rng *g, side *s, const side *o, const double *off,
				      double mean, double alpha, double *A, double *rhs, double *z,
				      size_t d)
{
	size_t w = d + 1;
	for (size_t e = 0; e < s->n; e++) {
		const double *oe = off ? off + e * d : NULL;
		/* S = sum f f^T (lower triangle) and t = sum f y over the ratings,
		 * f = [the other side's factors, 1], y = rating - mean - its bias */
		memset(A, 0, w * w * sizeof *A);
		memset(rhs, 0, w * sizeof *rhs);
		for (size_t t = s->start[e]; t < s->start[e + 1]; t++) {
			const double *f = o->theta + (size_t)s->other[t] * w;
			double y = s->val[t] - mean - f[d];
			if (oe)
#pragma GCC unroll 8
				for (size_t a = 0; a < d; a++)
					y -= oe[a] * f[a];
			double wt = s->tau[e] * o->tau[s->other[t]];
#pragma GCC unroll 8
			for (size_t a = 0; a < d; a++) {
				double wf = wt * f[a];
				rhs[a] += wf * y;
				double *row = A + a * w;
#pragma GCC unroll 8
				for (size_t b = 0; b <= a; b++)
					row[b] += wf * f[b];
			}
			/* the constant 1 in place of the other side's bias */
			double *last = A + d * w;
#pragma GCC unroll 8
			for (size_t b = 0; b < d; b++)
				last[b] += wt * f[b];
			last[d] += wt;
			rhs[d] += wt * y;
		}
		/* precision = diag(lambda) + alpha S; rhs = lambda mu + alpha t */
		for (size_t a = 0; a < w; a++) {
			for (size_t b = 0; b <= a; b++)
				A[a * w + b] *= alpha;
			A[a * w + a] += s->lam[a];
			rhs[a] = alpha * rhs[a] + s->lam[a] * s->mu[a];
		}
		gauss_draw(g, A, rhs, z, w, s->theta + e * w);
	}
}

static void draw_side(rng *g, side *s, const side *o, const double *off, double mean,
		      double alpha, double *A, double *rhs, double *z)
{
	if (s->w == DIM_FIXED + 1)
		draw_side_d(g, s, o, off, mean, alpha, A, rhs, z, DIM_FIXED);
	else
		draw_side_d(g, s, o, off, mean, alpha, A, rhs, z, s->w - 1);
}

/* An implicit part (SVD++'s, and its mirror for movies): the factors of
 * entity e of side s are p_e = x_e + c_e sum z_j over the entities j of the
 * other side o that e has a train rating with, c_e = |N(e)|^-1/2. Every z_j
 * is drawn given all else; a rating (e, i) with j in N(e) sees z_j through
 * c_e z_j . f_i, so z_j's precision is lambda + alpha sum_e c_e^2 S_e with
 * S_e = sum_i w f_i f_i^T over e's ratings (one pass per sweep), and its
 * rhs is lambda mu + alpha sum_e c_e (h_e - S_e (p_e - c_e z_j)) with
 * h_e = sum_i w f_i (r - mean - b_e - b_i). After each draw the entities
 * that rated with j move p_e by c_e (new - old). */
typedef struct implicit {
	double *z;	   /* n_other x d */
	double *S, *h, *c; /* n x d x d, n x d, n */
	double *eff;	   /* n x w: [p_e, b_e], the factors o sees */
	double *off;	   /* n x d: c_e sum z_j */
	double *work;	   /* d x d + 3 d */
	double mu[64], lam[64];
} implicit;

static int implicit_alloc(implicit *im, size_t n, size_t n_other, size_t d)
{
	im->z = lf_calloc(n_other * d + 1, sizeof(double));
	im->S = lf_calloc(n * d * d + 1, sizeof(double));
	im->h = lf_calloc(n * d + 1, sizeof(double));
	im->c = lf_calloc(n + 1, sizeof(double));
	im->eff = lf_calloc(n * (d + 1) + 1, sizeof(double));
	im->off = lf_calloc(n * d + 1, sizeof(double));
	im->work = lf_calloc(d * d + 3 * d + 1, sizeof(double));
	for (size_t k = 0; k < d && k < 64; k++)
		im->lam[k] = 1.0;
	return im->z && im->S && im->h && im->c && im->eff && im->off && im->work ? 0 : -1;
}

static void implicit_free(implicit *im)
{
	free(im->z);
	free(im->S);
	free(im->h);
	free(im->c);
	free(im->eff);
	free(im->off);
	free(im->work);
}

/* eff = theta + off after theta's draw. */
static void refresh_eff(implicit *im, const side *s)
{
	size_t w = s->w, d = w - 1;
	for (size_t e = 0; e < s->n; e++) {
		for (size_t a = 0; a < d; a++)
			im->eff[e * w + a] = s->theta[e * w + a] + im->off[e * d + a];
		im->eff[e * w + d] = s->theta[e * w + d];
	}
}

/* s: the side with the implicit part (its own theta [x_e, b_e]); o: the
 * other side as s sees it (effective factors). Draws every z_j and leaves
 * the new sums in im->off; refresh_eff brings im->eff up to date after s's
 * own factors are drawn. */
static ALWAYS_INLINE void draw_implicit_d(rng *g, implicit *im, const side *s, const side *o,
					  double mean, double alpha, size_t d)
{
	size_t w = d + 1;
	double *eff = im->eff, *A = im->work, *rhs = A + d * d, *zn = rhs + d, *zw = zn + d;
	refresh_eff(im, s);
	for (size_t u = 0; u < s->n; u++) {
		double *S = im->S + u * d * d, *h = im->h + u * d;
		const double *x = s->theta + u * w;
		memset(S, 0, d * d * sizeof *S);
		memset(h, 0, d * sizeof *h);
		for (size_t t = s->start[u]; t < s->start[u + 1]; t++) {
			const double *f = o->theta + (size_t)s->other[t] * w;
			double wt = s->tau[u] * o->tau[s->other[t]];
			double y = wt * (s->val[t] - mean - x[d] - f[d]);
#pragma GCC unroll 8
			for (size_t a = 0; a < d; a++) {
				double wf = wt * f[a];
				h[a] += f[a] * y;
#pragma GCC unroll 8
				for (size_t b = 0; b <= a; b++)
					S[a * d + b] += wf * f[b];
			}
		}
		for (size_t a = 0; a < d; a++)
			for (size_t b = 0; b < a; b++)
				S[b * d + a] = S[a * d + b];
	}
	for (size_t j = 0; j < o->n; j++) {
		double *zj = im->z + j * d;
		memset(A, 0, d * d * sizeof *A);
		memset(rhs, 0, d * sizeof *rhs);
		for (size_t t = o->start[j]; t < o->start[j + 1]; t++) {
			size_t u = (size_t)o->other[t];
			double cu = im->c[u], c2 = cu * cu;
			const double *S = im->S + u * d * d, *h = im->h + u * d, *pu = eff + u * w;
			double v[64];
#pragma GCC unroll 8
			for (size_t a = 0; a < d; a++)
				v[a] = pu[a] - cu * zj[a];
#pragma GCC unroll 8
			for (size_t a = 0; a < d; a++) {
				const double *Sa = S + a * d;
				double sv = 0;
#pragma GCC unroll 8
				for (size_t b = 0; b < d; b++)
					sv += Sa[b] * v[b];
				rhs[a] += cu * (h[a] - sv);
#pragma GCC unroll 8
				for (size_t b = 0; b <= a; b++)
					A[a * d + b] += c2 * Sa[b];
			}
		}
		for (size_t a = 0; a < d; a++) {
			for (size_t b = 0; b <= a; b++)
				A[a * d + b] *= alpha;
			A[a * d + a] += im->lam[a];
			rhs[a] = alpha * rhs[a] + im->lam[a] * im->mu[a];
		}
		gauss_draw(g, A, rhs, zw, d, zn);
		for (size_t t = o->start[j]; t < o->start[j + 1]; t++) {
			size_t u = (size_t)o->other[t];
			for (size_t a = 0; a < d; a++)
				eff[u * w + a] += im->c[u] * (zn[a] - zj[a]);
		}
		memcpy(zj, zn, d * sizeof *zj);
	}
	/* the sums afresh (no drift from the running updates); eff follows
	 * them in refresh_eff once s's own factors are drawn */
	for (size_t u = 0; u < s->n; u++) {
		double *of = im->off + u * d;
		memset(of, 0, d * sizeof *of);
		for (size_t t = s->start[u]; t < s->start[u + 1]; t++)
			for (size_t a = 0; a < d; a++)
				of[a] += im->z[(size_t)s->other[t] * d + a];
		for (size_t a = 0; a < d; a++)
			of[a] *= im->c[u];
	}
}

static void draw_implicit(rng *g, implicit *im, const side *s, const side *o, double mean,
			  double alpha)
{
	if (s->w == DIM_FIXED + 1)
		draw_implicit_d(g, im, s, o, mean, alpha, DIM_FIXED);
	else
		draw_implicit_d(g, im, s, o, mean, alpha, s->w - 1);
}

/* One side's turn in a sweep, users' then movies': its implicit part (im,
 * NULL when it has none) given the other side o, its hyperparameters, its
 * factors, then the factors o will see. work: w x w + 2 w doubles. */
static void sweep_side(rng *g, implicit *im, side *s, const side *o, double mean, double alpha,
		       double *work)
{
	size_t w = s->w;
	if (im) {
		draw_hyper(g, im->z, o->n, w - 1, im->mu, im->lam);
		draw_implicit(g, im, s, o, mean, alpha);
	}
	draw_hyper(g, s->theta, s->n, w, s->mu, s->lam);
	draw_side(g, s, o, im ? im->off : NULL, mean, alpha, work, work + w * w, work + w * w + w);
	if (im)
		refresh_eff(im, s);
}

/* Squared errors of the current sample: the plain sum (for the progress
 * line) into *sse, the sum weighted by both noise scales returned (for
 * alpha); with nu > 0 each entity of s also draws its own noise scale
 * tau ~ Gamma(nu/2 + n_e/2, nu/2 + alpha sum tau_other e^2 / 2). */
static double sweep_sse(rng *g, side *s, const side *o, double mean, double alpha, double nu,
			double *sse)
{
	size_t w = s->w, d = w - 1;
	double weighted = 0;
	*sse = 0;
	for (size_t u = 0; u < s->n; u++) {
		const double *x = s->theta + u * w;
		double own = 0;
		for (size_t t = s->start[u]; t < s->start[u + 1]; t++) {
			const double *y = o->theta + (size_t)s->other[t] * w;
			double p = mean + x[d] + y[d];
			for (size_t k = 0; k < d; k++)
				p += x[k] * y[k];
			double e = s->val[t] - p;
			*sse += e * e;
			own += o->tau[s->other[t]] * e * e;
		}
		if (nu > 0) {
			double n_e = (double)(s->start[u + 1] - s->start[u]);
			s->tau[u] = gamma_draw(g, nu / 2 + n_e / 2, nu / 2 + alpha * own / 2);
		}
		weighted += s->tau[u] * own;
	}
	return weighted;
}

int rmf_train(const csr *train, size_t n_items, const rmf_params *p, epoch_fn cb, void *ctx,
	      rmf_model *out, lf_error *err)
{
	size_t nu = train->n_rows, n = train->n, d = p->dim, w = d + 1;
	int burn = p->burn_in < p->sweeps ? p->burn_in : p->sweeps - 1;
	int avail = p->sweeps - burn;
	int thin = avail / p->samples > 1 ? avail / p->samples : 1;
	int kept_max = avail / thin < p->samples ? avail / thin : p->samples;
	burn = p->sweeps - kept_max * thin; /* the last sweep is the last sample */
	size_t width = (size_t)kept_max * d;
	memset(out, 0, sizeof *out);
	side us = {.n = nu, .w = w}, it = {.n = n_items, .w = w};
	size_t *istart = lf_calloc(n_items + 1, sizeof *istart);
	int32_t *iuser = lf_calloc(n ? n : 1, sizeof *iuser);
	float *ival = lf_calloc(n ? n : 1, sizeof *ival);
	double *work = lf_calloc(w * w + 2 * w, sizeof *work);
	us.theta = lf_calloc(nu * w, sizeof(double));
	it.theta = lf_calloc(n_items * w, sizeof(double));
	us.tau = lf_calloc(nu ? nu : 1, sizeof(double));
	it.tau = lf_calloc(n_items ? n_items : 1, sizeof(double));
	float *block = lf_calloc((nu + n_items) * (width + 1), sizeof(float));
	implicit ui = {0}, ii = {0}; /* the users' and the movies' implicit parts */
	int rc = -1;
	int imp_u = p->implicit & RMF_IMPLICIT_USERS, imp_m = p->implicit & RMF_IMPLICIT_MOVIES;
	if (w <= 65 && ((imp_u && implicit_alloc(&ui, nu, n_items, d) < 0) ||
			(imp_m && implicit_alloc(&ii, n_items, nu, d) < 0))) {
		free(block);
		block = NULL;
	}
	if (w > 65 || !istart || !iuser || !ival || !work || !us.theta || !it.theta || !us.tau ||
	    !it.tau || !block) {
		free(block);
		lf_fail(err, EX_OSERR, "out of memory for the rating head");
		goto done;
	}
	out->n_users = nu;
	out->n_items = n_items;
	out->dim = width;
	out->X = block;
	out->Y = out->X + nu * width;
	out->bu = out->Y + n_items * width;
	out->bi = out->bu + nu;
	/* item-major copy of the ratings */
	for (size_t t = 0; t < n; t++)
		istart[train->col[t] + 1]++;
	for (size_t i = 0; i < n_items; i++)
		istart[i + 1] += istart[i];
	double sum = 0;
	int half = 0; /* any half star: the data's scale starts at 0.5 */
	for (size_t u = 0; u < nu; u++)
		for (size_t t = train->start[u]; t < train->start[u + 1]; t++) {
			size_t at = istart[train->col[t]]++;
			iuser[at] = (int32_t)u;
			ival[at] = train->val[t];
			sum += train->val[t];
			half |= train->val[t] != floorf(train->val[t]);
		}
	for (size_t i = n_items; i > 0; i--)
		istart[i] = istart[i - 1];
	istart[0] = 0;
	out->mean = n ? sum / (double)n : 3.0;
	out->lo = half ? 0.5 : 1.0;
	us.start = train->start, us.other = train->col, us.val = train->val;
	it.start = istart, it.other = iuser, it.val = ival;
	rng g;
	rng_seed(&g, p->seed);
	for (size_t j = 0; j < nu * w; j++)
		us.theta[j] = (j % w == d) ? 0.0 : rng_normal(&g) * p->init_sd;
	for (size_t j = 0; j < n_items * w; j++)
		it.theta[j] = (j % w == d) ? 0.0 : rng_normal(&g) * p->init_sd;
	for (size_t k = 0; k < w; k++)
		us.lam[k] = it.lam[k] = 1.0;
	for (size_t u = 0; u < nu; u++)
		us.tau[u] = 1.0;
	for (size_t i = 0; i < n_items; i++)
		it.tau[i] = 1.0;
	if (imp_u)
		for (size_t u = 0; u < nu; u++) {
			size_t nr = train->start[u + 1] - train->start[u];
			ui.c[u] = nr ? 1.0 / sqrt((double)nr) : 0.0;
		}
	if (imp_m)
		for (size_t i = 0; i < n_items; i++) {
			size_t nr = istart[i + 1] - istart[i];
			ii.c[i] = nr ? 1.0 / sqrt((double)nr) : 0.0;
		}
	/* each side as the other sees it: [x + implicit sum, bias] */
	side ue = us, ie = it;
	if (imp_u)
		ue.theta = ui.eff;
	if (imp_m)
		ie.theta = ii.eff;
	if (imp_m) /* no implicit sum yet */
		memcpy(ii.eff, it.theta, n_items * w * sizeof(double));
	double alpha = 1.0;
	int kept = 0;
	for (int sweep = 1; sweep <= p->sweeps; sweep++) {
		double t0 = now_seconds();
		/* each side's implicit part before its own factors: at the start
		 * the factors are near 0, so what the company of a rating says
		 * goes to z (shared by every user of that movie) and not to x */
		sweep_side(&g, imp_u ? &ui : NULL, &us, &ie, out->mean, alpha, work);
		sweep_side(&g, imp_m ? &ii : NULL, &it, &ue, out->mean, alpha, work);
		double sse;
		if (p->robust > 0) /* items' noise scales (users' come with the SSE) */
			sweep_sse(&g, &ie, &ue, out->mean, alpha, p->robust, &sse);
		double wsse = sweep_sse(&g, &ue, &ie, out->mean, alpha, p->robust, &sse);
		if (!isfinite(sse)) {
			rmf_free(out);
			lf_fail(err, EX_SOFTWARE, "the rating head diverged at sweep %d", sweep);
			goto done;
		}
		alpha = gamma_draw(&g, A0 + (double)n / 2.0, B0 + wsse / 2.0);
		if (sweep > burn && (sweep - burn) % thin == 0 && kept < kept_max) {
			float inv = 1.0f / (float)kept_max;
			for (size_t u = 0; u < nu; u++) {
				for (size_t k = 0; k < d; k++)
					out->X[u * width + (size_t)kept * d + k] =
						(float)ue.theta[u * w + k] * inv;
				out->bu[u] += (float)ue.theta[u * w + d] * inv;
			}
			for (size_t i = 0; i < n_items; i++) {
				for (size_t k = 0; k < d; k++)
					out->Y[i * width + (size_t)kept * d + k] =
						(float)ie.theta[i * w + k];
				out->bi[i] += (float)ie.theta[i * w + d] * inv;
			}
			kept++;
		}
		if (cb)
			cb(ctx, "gibbs", sweep, p->sweeps, n ? sqrt(sse / (double)n) : 0, NAN,
			   now_seconds() - t0);
	}
	rc = 0;
done:
	free(istart);
	free(iuser);
	free(ival);
	free(work);
	free(us.theta);
	free(it.theta);
	free(us.tau);
	free(it.tau);
	implicit_free(&ui);
	implicit_free(&ii);
	return rc;
}
