/*
 * output.c — the model file and the run's records (see train.h). Tables:
 *   users        [p_u, 1]             items        [q_i, b_i]
 *   rating_users [x_u, mean + bu_u, 1] rating_items [y_i, 1, bi_i]
 *   foldin       {user_l2, alpha, weight_norm, 1}
 * so that both the ranking score and the predicted stars are plain dot
 * products of a user row and an item row.
 */
#include "train.h"

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
	return k == MODEL_EASE ? "ease" : k == MODEL_SOFTMAX ? "softmax-mf" : "blend";
}

double blend_scale(const train_config *c, const train_result *r)
{
	if (c->model != MODEL_BLEND)
		return 1.0;
	double mean = 0, sd_mf = 0, w = c->blend_weight;
	if (score_moments(r->rank.P, r->rank.n_users, r->rank.Q, r->rank.n_items, r->rank.dim + 1,
			  &mean, &sd_mf) < 0 ||
	    !(r->ease.sd > 0) || !(sd_mf > 0))
		return NAN;
	return w / (1.0 - w) * sd_mf / r->ease.sd;
}

/* users [a E_u, p_u, 1] and items [I_i, q_i, b_i]: a times the EASE score
 * plus the softmax-MF score, which ranks as the blend does (both divided
 * by (1 - w) / sd_mf). Either block may be absent. */
static int ranking_tables(const dataset *d, const train_config *c, const train_result *r, lfe *out,
			  lf_error *err)
{
	size_t nu = d->n_users, ni = d->n_items;
	size_t ke = c->model == MODEL_SOFTMAX ? 0 : r->ease.dim;
	size_t km = c->model == MODEL_EASE ? 0 : r->rank.dim + 1;
	double a = blend_scale(c, r);
	if (!isfinite(a))
		return lf_fail(err, EX_SOFTWARE, "blend: a model's scores have no spread");
	lfe_table *t;
	if (add(out, "users", (uint32_t)nu, (uint32_t)(ke + km), d->user_ids, &t, err) < 0)
		return -1;
	for (size_t u = 0; u < nu; u++) {
		float *row = t->values + u * (ke + km);
		for (size_t j = 0; j < ke; j++)
			row[j] = (float)(a * r->ease.E[u * ke + j]);
		if (km)
			memcpy(row + ke, r->rank.P + u * km, km * sizeof(float));
	}
	if (add(out, "items", (uint32_t)ni, (uint32_t)(ke + km), d->item_ids, &t, err) < 0)
		return -1;
	for (size_t i = 0; i < ni; i++) {
		float *row = t->values + i * (ke + km);
		if (ke)
			memcpy(row, r->ease.Q + i * ke, ke * sizeof(float));
		if (km)
			memcpy(row + ke, r->rank.Q + i * km, km * sizeof(float));
	}
	if (!ke)
		return 0;
	/* a new user's EASE block: the sum of the rated movies' rows */
	if (add(out, "ease_foldin", (uint32_t)ni, (uint32_t)ke, d->item_ids, &t, err) < 0)
		return -1;
	for (size_t j = 0; j < ni * ke; j++)
		t->values[j] = (float)(a * r->ease.F[j]);
	int32_t zero = 0;
	if (add(out, "blend", 1, 4, &zero, &t, err) < 0)
		return -1;
	t->values[0] = (float)ke; /* EASE block: the first ke components */
	t->values[1] = (float)km; /* softmax-MF block after it ([p, 1] / [q, b]) */
	t->values[2] = (float)a;
	t->values[3] = (float)(c->model == MODEL_BLEND ? c->blend_weight : 1.0);
	return 0;
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
	if (add(out, "rating_users", nu, (uint32_t)q + 2, d->user_ids, &t, err) < 0)
		goto fail;
	for (size_t u = 0; u < nu; u++) {
		float *row = t->values + u * (q + 2);
		memcpy(row, h->X + u * q, q * sizeof(float));
		row[q] = (float)(h->mean + h->bu[u]);
		row[q + 1] = 1.0f;
	}
	if (add(out, "rating_items", ni, (uint32_t)q + 2, d->item_ids, &t, err) < 0)
		goto fail;
	for (size_t i = 0; i < ni; i++) {
		float *row = t->values + i * (q + 2);
		memcpy(row, h->Y + i * q, q * sizeof(float));
		row[q] = 1.0f;
		row[q + 1] = h->bi[i];
	}
	if (c->model == MODEL_EASE)
		return 0;
	int32_t zero = 0;
	if (add(out, "foldin", 1, 4, &zero, &t, err) < 0)
		goto fail;
	t->values[0] = (float)c->rank.user_l2;
	t->values[1] = (float)c->rank.alpha;
	t->values[2] = (float)s->weight_norm;
	t->values[3] = 1.0f;
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
	if (c->model != MODEL_SOFTMAX) {
		fprintf(f, "ease_l2\t%.9g\n", c->ease.l2);
		fprintf(f, "ease_dim\t%zu\n", c->ease.dim);
		fprintf(f, "ease_oversample\t%zu\n", c->ease.oversample);
		fprintf(f, "ease_power\t%d\n", c->ease.power);
		fprintf(f, "ease_seconds\t%.3f\n", r->ease_seconds);
	}
	if (c->model == MODEL_BLEND) {
		fprintf(f, "blend_weight\t%.9g\n", c->blend_weight);
		fprintf(f, "blend_scale\t%.9g\n", blend_scale(c, r));
	}
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
