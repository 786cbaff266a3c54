/*
 * model.c — the model's tables in a .lfe (model.h): the checks a served set
 * passes and the writers of the parameter tables.
 */
#include "model.h"

#include <math.h>
#include <string.h>

/* blend: 1 x 9 whose blocks tile the ranking vectors; ease_foldin: one k_e
 * row per movie, in the items' order. */
static int view_blend(const lfe *m, const char *name, struct model_set *s, lf_error *err)
{
	const lfe_table *t = lfe_find(m, MODEL_T_BLEND);
	s->ease = lfe_find(m, MODEL_T_EASE_FOLDIN);
	if (!t)
		return s->ease ? lf_fail(err, EX_DATAERR, "%s: ease_foldin without a blend table",
					 name)
			       : 0;
	if (t->rows != 1 || t->dim != 9)
		return lf_fail(err, EX_DATAERR, "%s: blend is %ux%u, expected 1x9", name, t->rows,
			       t->dim);
	const float *b = t->values;
	for (int j = 0; j < 9; j++)
		if (!isfinite(b[j]) || b[j] < 0)
			return lf_fail(err, EX_DATAERR, "%s: blend value %d is %g", name, j,
				       (double)b[j]);
	for (int j = 0; j < 3; j++)
		if (b[j] != floorf(b[j]) || b[j] > LFE_MAX_DIM)
			return lf_fail(err, EX_DATAERR, "%s: blend block size %g is not a dimension",
				       name, (double)b[j]);
	struct model_blend *p = &s->blend;
	*p = (struct model_blend){.k_e = (size_t)b[0],
				  .k_i = (size_t)b[1],
				  .m = (size_t)b[2],
				  .a_e = b[3],
				  .a_i = b[4],
				  .w_e = b[5],
				  .w_i = b[6],
				  .ials_alpha = b[7],
				  .ials_reg = b[8]};
	s->has_blend = 1;
	if (p->k_e + p->k_i + p->m != s->wdim)
		return lf_fail(err, EX_DATAERR,
			       "%s: blend blocks %zu + %zu + %zu do not make the dimension %u", name,
			       p->k_e, p->k_i, p->m, s->wdim);
	if (p->m && !s->has_foldin)
		return lf_fail(err, EX_DATAERR, "%s: a softmax-MF block without a foldin table",
			       name);
	if (!p->k_e)
		return s->ease ? lf_fail(err, EX_DATAERR, "%s: ease_foldin without an EASE block",
					 name)
			       : 0;
	if (!s->ease)
		return lf_fail(err, EX_DATAERR, "%s: an EASE block without ease_foldin", name);
	if (s->ease->dim != p->k_e || s->ease->rows != s->items->rows)
		return lf_fail(err, EX_DATAERR, "%s: ease_foldin is %ux%u, expected %ux%zu", name,
			       s->ease->rows, s->ease->dim, s->items->rows, p->k_e);
	if (memcmp(s->ease->ids, s->items->ids, s->items->rows * sizeof *s->items->ids) != 0)
		return lf_fail(err, EX_DATAERR, "%s: ease_foldin's movies are not the items'", name);
	return 0;
}

/* The compact form: fold_items (the items' ids, the full width) and
 * serve_map (full width x dim), both or neither. */
static int view_compact(const lfe *m, const char *name, struct model_set *s, lf_error *err)
{
	s->fold = lfe_find(m, MODEL_T_FOLD_ITEMS);
	s->map = lfe_find(m, MODEL_T_SERVE_MAP);
	s->wdim = s->dim;
	if (!s->fold && !s->map)
		return 0;
	if (!s->fold || !s->map)
		return lf_fail(err, EX_DATAERR, "%s: %s without %s", name,
			       s->fold ? MODEL_T_FOLD_ITEMS : MODEL_T_SERVE_MAP,
			       s->fold ? MODEL_T_SERVE_MAP : MODEL_T_FOLD_ITEMS);
	if (s->fold->rows != s->items->rows ||
	    memcmp(s->fold->ids, s->items->ids, s->items->rows * sizeof *s->items->ids) != 0)
		return lf_fail(err, EX_DATAERR, "%s: fold_items' movies are not the items'", name);
	if (s->map->dim != s->dim || s->map->rows != s->fold->dim)
		return lf_fail(err, EX_DATAERR, "%s: serve_map is %ux%u, expected %ux%u", name,
			       s->map->rows, s->map->dim, s->fold->dim, s->dim);
	s->wdim = s->fold->dim;
	return 0;
}

int model_view(const lfe *m, const char *name, struct model_set *s, lf_error *err)
{
	memset(s, 0, sizeof *s);
	s->users = lfe_find(m, MODEL_T_USERS);
	s->items = lfe_find(m, MODEL_T_ITEMS);
	if (!s->users || !s->items)
		return lf_fail(err, EX_DATAERR,
			       "%s: no '%s' table; an .lfe for serving needs users and items", name,
			       s->users ? MODEL_T_ITEMS : MODEL_T_USERS);
	if (s->users->rows == 0 || s->items->rows == 0)
		return lf_fail(err, EX_DATAERR, "%s: the %s table is empty", name,
			       s->users->rows ? MODEL_T_ITEMS : MODEL_T_USERS);
	if (s->users->dim != s->items->dim)
		return lf_fail(err, EX_DATAERR, "%s: users have dim %u but items dim %u", name,
			       s->users->dim, s->items->dim);
	s->dim = s->items->dim;
	const lfe_table *f = lfe_find(m, MODEL_T_FOLDIN);
	if (f) {
		if (f->rows != 1 || f->dim != 4)
			return lf_fail(err, EX_DATAERR, "%s: foldin is %ux%u, expected 1x4", name,
				       f->rows, f->dim);
		s->foldin = (struct model_foldin){.user_l2 = f->values[0],
						  .weight_alpha = f->values[1],
						  .weight_norm = f->values[2],
						  .bias_last = f->values[3] != 0.0f};
		s->has_foldin = 1;
	}
	if (view_compact(m, name, s, err) < 0)
		return -1;
	s->ddim = s->wdim - (s->foldin.bias_last ? 1 : 0);
	if (s->ddim == 0)
		return lf_fail(err, EX_DATAERR, "%s: dim 1 with bias_last leaves no movie factor",
			       name);
	return view_blend(m, name, s, err);
}

static int put_row(lfe *m, const char *table, const float *v, uint32_t n, lf_error *err)
{
	lfe_table *t;
	if (lfe_add_table(m, table, 1, n, &t, err) < 0)
		return -1;
	t->ids[0] = 0;
	memcpy(t->values, v, n * sizeof *v);
	return 0;
}

int model_put_foldin(lfe *m, const struct model_foldin *f, lf_error *err)
{
	float v[4] = {(float)f->user_l2, (float)f->weight_alpha, (float)f->weight_norm,
		      f->bias_last ? 1.0f : 0.0f};
	return put_row(m, MODEL_T_FOLDIN, v, 4, err);
}

int model_put_blend(lfe *m, const struct model_blend *b, lf_error *err)
{
	float v[9] = {(float)b->k_e, (float)b->k_i,	   (float)b->m,
		      (float)b->a_e, (float)b->a_i,	   (float)b->w_e,
		      (float)b->w_i, (float)b->ials_alpha, (float)b->ials_reg};
	return put_row(m, MODEL_T_BLEND, v, 9, err);
}
