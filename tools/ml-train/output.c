/*
 * output.c — the model file and the run's records (see train.h). The tables
 * and their layout are lib/model.h's: both the ranking score and the
 * predicted stars are plain dot products of a user row and an item row.
 */
#include "train.h"

#include "model.h"

#include <math.h>
#include <string.h>

static int add(lfe *m, const char *name, uint32_t rows, uint32_t dim, const int32_t *ids,
	       lfe_table **t, lf_error *err)
{
	if (lfe_add_table(m, name, rows, dim, t, err) < 0)
		return -1;
	memcpy((*t)->ids, ids, rows * sizeof *ids);
	return 0;
}

const char *model_name(model_kind k)
{
	return k == MODEL_EASE	    ? "ease"
	       : k == MODEL_IALS    ? "ials"
	       : k == MODEL_SOFTMAX ? "softmax-mf"
				    : "blend";
}

int blend_scales(const train_config *c, const train_result *r, double *a_ease, double *a_ials)
{
	*a_ease = *a_ials = 1.0;
	if (c->model != MODEL_BLEND)
		return 0;
	double mean = 0, sd_mf = 0, sd_i = 0;
	if (c->mf_off) { /* EASE's block as it is, iALS's scaled to its share */
		if (!(r->ease.sd > 0))
			return -1;
		if (c->ials_weight > 0 &&
		    score_moments(r->ials.P, r->ials.n_users, r->ials.Q, r->ials.n_items,
				  r->ials.dim, &mean, &sd_i) < 0)
			return -2;
		if (c->ials_weight > 0 && !(sd_i > 0))
			return -1;
		*a_ials = c->ials_weight > 0
				  ? c->ials_weight / c->blend_weight * r->ease.sd / sd_i
				  : 1.0;
		return 0;
	}
	double wm = 1.0 - c->blend_weight - c->ials_weight;
	if (score_moments(r->rank.P, r->rank.n_users, r->rank.Q, r->rank.n_items, r->rank.dim + 1,
			  &mean, &sd_mf) < 0)
		return -2;
	if (!(r->ease.sd > 0) || !(sd_mf > 0) || !(wm > 0))
		return -1;
	*a_ease = c->blend_weight / wm * sd_mf / r->ease.sd;
	if (c->ials_weight > 0) {
		if (score_moments(r->ials.P, r->ials.n_users, r->ials.Q, r->ials.n_items,
				  r->ials.dim, &mean, &sd_i) < 0)
			return -2;
		if (!(sd_i > 0))
			return -1;
		*a_ials = c->ials_weight / wm * sd_mf / sd_i;
	}
	return 0;
}

/* Copies rows of src (n x k) scaled by a into columns [off, off + k) of
 * dst (n x width). */
static void put_block(float *dst, size_t width, size_t off, const float *src, size_t n, size_t k,
		      double a)
{
	for (size_t r = 0; r < n; r++)
		for (size_t j = 0; j < k; j++)
			dst[r * width + off + j] = (float)(a * src[r * k + j]);
}

/* users [a_e E_u, a_i P_u, p_u, 1] and items [Q_i, Q'_i, q_i, b_i]: the
 * blocks of EASE, iALS and the softmax MF, each present or not. Divided by
 * w_mf / sd_mf, the score is the blend's w_e s_e / sd_e + w_i s_i / sd_i +
 * w_mf s_mf / sd_mf, so it ranks as the blend does. */
static int ranking_tables(const dataset *d, const train_config *c, const train_result *r, lfe *out,
			  lf_error *err)
{
	size_t nu = d->n_users, ni = d->n_items;
	size_t ke = r->ease.dim, ki = r->ials.dim; /* 0 when not trained */
	size_t km = uses_mf(c) ? r->rank.dim + 1 : 0;
	size_t wd = ke + ki + km;
	double ae, ai;
	int scaled = blend_scales(c, r, &ae, &ai);
	if (scaled < 0)
		return scaled == -2 ? lf_fail(err, EX_OSERR, "out of memory for the blend's scales")
				    : lf_fail(err, EX_SOFTWARE, "blend: a model's scores have no spread");
	lfe_table *tu, *ti, *t;
	if (add(out, MODEL_T_USERS, (uint32_t)nu, (uint32_t)wd, d->user_ids, &tu, err) < 0 ||
	    add(out, MODEL_T_ITEMS, (uint32_t)ni, (uint32_t)wd, d->item_ids, &ti, err) < 0)
		return -1;
	put_block(tu->values, wd, 0, r->ease.E, nu, ke, ae);
	put_block(ti->values, wd, 0, r->ease.Q, ni, ke, 1.0);
	put_block(tu->values, wd, ke, r->ials.P, nu, ki, ai);
	put_block(ti->values, wd, ke, r->ials.Q, ni, ki, 1.0);
	put_block(tu->values, wd, ke + ki, r->rank.P, nu, km, 1.0);
	put_block(ti->values, wd, ke + ki, r->rank.Q, ni, km, 1.0);
	if (c->model == MODEL_SOFTMAX)
		return 0;
	if (ke) { /* a new user's EASE block: the sum of the rated movies' rows */
		if (add(out, MODEL_T_EASE_FOLDIN, (uint32_t)ni, (uint32_t)ke, d->item_ids, &t, err) < 0)
			return -1;
		for (size_t j = 0; j < ni * ke; j++)
			t->values[j] = (float)(ae * r->ease.F[j]);
	}
	struct model_blend b = {
		.k_e = ke,
		.k_i = ki,
		.m = km,
		.a_e = ae,
		.a_i = ai,
		.w_e = c->model == MODEL_BLEND ? c->blend_weight : ke ? 1.0 : 0.0,
		.w_i = c->model == MODEL_BLEND ? c->ials_weight : ki ? 1.0 : 0.0,
		.ials_alpha = c->ials.alpha,
		.ials_reg = c->ials.reg,
	};
	return model_put_blend(out, &b, err);
}

int train_to_lfe(const dataset *d, const train_config *c, const train_result *r, lfe *out,
		 lf_error *err)
{
	memset(out, 0, sizeof *out);
	const smf_model *s = &r->rank;
	const rmf_model *h = &r->rating;
	uint32_t nu = (uint32_t)d->n_users, ni = (uint32_t)d->n_items;
	size_t q = h->dim;
	lfe_table *t;
	if (ranking_tables(d, c, r, out, err) < 0)
		goto fail;
	if (add(out, MODEL_T_RATING_USERS, nu, (uint32_t)q + 2, d->user_ids, &t, err) < 0)
		goto fail;
	for (size_t u = 0; u < nu; u++) {
		float *row = t->values + u * (q + 2);
		memcpy(row, h->X + u * q, q * sizeof(float));
		row[q] = (float)(h->mean + h->bu[u]);
		row[q + 1] = 1.0f;
	}
	if (add(out, MODEL_T_RATING_ITEMS, ni, (uint32_t)q + 2, d->item_ids, &t, err) < 0)
		goto fail;
	for (size_t i = 0; i < ni; i++) {
		float *row = t->values + i * (q + 2);
		memcpy(row, h->Y + i * q, q * sizeof(float));
		row[q] = 1.0f;
		row[q + 1] = h->bi[i];
	}
	if (!uses_mf(c))
		return 0;
	struct model_foldin f = {.user_l2 = c->rank.user_l2,
				 .weight_alpha = c->rank.alpha,
				 .weight_norm = s->weight_norm,
				 .bias_last = 1};
	if (model_put_foldin(out, &f, err) < 0)
		goto fail;
	return 0;
fail:
	lfe_free(out);
	return -1;
}

static int failed(FILE *f, const char *name, lf_error *err)
{
	return ferror(f) ? lf_fail(err, EX_IOERR, "%s: write failed", name) : 0;
}

int write_losses(FILE *f, const char *name, const train_result *r, lf_error *err)
{
	const loss_log *logs[3] = {&r->rank_losses, &r->refit_losses, &r->rating_losses};
	for (int l = 0; l < 3; l++)
		for (size_t j = 0; j < logs[l]->n; j++) {
			const loss_row *row = &logs[l]->rows[j];
			/* a refit running beside the selection may go past the
			 * chosen epoch before it learns it; those epochs are not
			 * the model's */
			if (l == 1 && row->step > r->rank_epochs)
				continue;
			fprintf(f, "%d\t%s\t%.9g\n", row->step, row->name, row->value);
		}
	return failed(f, name, err);
}

int write_params(FILE *f, const char *name, const dataset *d, const train_config *c,
		 const train_result *r, lf_error *err)
{
	fprintf(f, "model\t%s\n", model_name(c->model));
	if (c->auto_rule)
		fprintf(f, "model_auto\t%s\n", c->auto_rule);
	if (c->model == MODEL_BLEND)
		fprintf(f, "blend_parts\t%s\n",
			c->mf_off		? "ease+ials"
			: c->ials_weight > 0 ? "ease+ials+softmax-mf"
					     : "ease+softmax-mf");
	if (r->ease.dim)
		fprintf(f, "ease_path\t%s\n",
			c->ease.sparse || !ease_dense_fits(d->n_users, d->n_items) ? "sparse" : "dense");
	if (r->ials.dim) {
		fprintf(f, "ials_dim\t%zu\n", c->ials.dim);
		fprintf(f, "ials_alpha\t%.9g\n", c->ials.alpha);
		fprintf(f, "ials_reg\t%.9g\n", c->ials.reg);
		fprintf(f, "ials_iters\t%d\n", c->ials.iters);
		fprintf(f, "ials_solver\t%s\n", c->ials.cg_steps > 0 ? "cg" : "cholesky");
		if (c->ials.cg_steps > 0)
			fprintf(f, "ials_cg_steps\t%d\n", c->ials.cg_steps);
		fprintf(f, "ials_seconds\t%.3f\n", r->ials_seconds);
	}
	if (r->ease.dim) {
		fprintf(f, "ease_l2\t%.9g\n", c->ease.l2);
		fprintf(f, "ease_dim\t%zu\n", c->ease.dim);
		fprintf(f, "ease_oversample\t%zu\n", c->ease.oversample);
		fprintf(f, "ease_power\t%d\n", c->ease.power);
		fprintf(f, "ease_seconds\t%.3f\n", r->ease_seconds);
	}
	if (c->model == MODEL_BLEND) {
		double ae = 1, ai = 1;
		if (blend_scales(c, r, &ae, &ai) == -2) /* -1 was refused by train_to_lfe */
			return lf_fail(err, EX_OSERR, "out of memory for the blend's scales");
		fprintf(f, "blend_weight\t%.9g\n", c->blend_weight);
		fprintf(f, "ials_weight\t%.9g\n", c->ials_weight);
		fprintf(f, "blend_scale_ease\t%.9g\n", ae);
		fprintf(f, "blend_scale_ials\t%.9g\n", ai);
	}
	if (c->serve_dim)
		fprintf(f, "serve_dim\t%zu\n", c->serve_dim);
	fprintf(f, "dim\t%zu\n", c->rank.dim);
	fprintf(f, "lr\t%.9g\n", c->rank.lr);
	fprintf(f, "user_l2\t%.9g\n", c->rank.user_l2);
	fprintf(f, "item_l2\t%.9g\n", c->rank.item_l2);
	fprintf(f, "user_weight_alpha\t%.9g\n", c->rank.alpha);
	fprintf(f, "batch_users\t%zu\n", c->rank.batch_users);
	fprintf(f, "optimizer\tadam\n");
	fprintf(f, "ema\t%.9g\n", c->rank.ema);
	fprintf(f, "epochs\t%s\n", c->epochs > 0 ? "fixed" : "early-stopping");
	fprintf(f, "max_epochs\t%d\n", c->epochs > 0 ? c->epochs : c->max_epochs);
	fprintf(f, "patience\t%d\n", c->rank.patience);
	fprintf(f, "validation_ratio\t%.9g\n", c->validation_ratio);
	fprintf(f, "rating_model\tbayesian-mf\n");
	fprintf(f, "rating_dim\t%zu\n", c->rating.dim);
	fprintf(f, "rating_sweeps\t%d\n", c->rating.sweeps);
	fprintf(f, "rating_burn_in\t%d\n", c->rating.burn_in);
	fprintf(f, "rating_samples\t%d\n", c->rating.samples);
	fprintf(f, "rating_robust\t%.9g\n", c->rating.robust);
	static const char *const implicit[] = {"none", "users", "movies", "both"};
	fprintf(f, "rating_implicit\t%s\n", implicit[c->rating.implicit & 3]);
	fprintf(f, "seed\t%llu\n", (unsigned long long)c->seed);
	fprintf(f, "threads\t%d\n", c->threads);
	fprintf(f, "epochs_chosen\t%d\n", r->rank_epochs);
	if (!isnan(r->val_ndcg))
		fprintf(f, "val_ndcg_at_10\t%.9g\n", r->val_ndcg);
	fprintf(f, "n_users\t%zu\n", d->n_users);
	fprintf(f, "n_items\t%zu\n", d->n_items);
	fprintf(f, "n_ratings\t%zu\n", d->all.n);
	fprintf(f, "train_seconds\t%.3f\n", r->seconds);
	return failed(f, name, err);
}
