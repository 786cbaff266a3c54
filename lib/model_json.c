/*
 * model_json.c — the model's parameters as embedding_sets.foldin (model.h):
 * written by ml-pgload, read by ml-serve, both through jansson.
 */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* 9 significant digits: a float of the .lfe reads back as itself */
#define REAL_FLAGS (JSON_REAL_PRECISION(9) | JSON_PRESERVE_ORDER | JSON_COMPACT)

/* JSON has one number type: a whole value is written as an integer ("2", not
 * jansson's "2.0"), the text "%.9g" gives, so the jsonb keeps its old text. */
static int set_real(json_t *o, const char *key, double v)
{
	if (v == floor(v) && fabs(v) < 9007199254740992.0)
		return json_object_set_new(o, key, json_integer((json_int_t)v));
	return json_object_set_new(o, key, json_real(v));
}

static int set_int(json_t *o, const char *key, json_int_t v)
{
	return json_object_set_new(o, key, json_integer(v));
}

json_t *model_params_json(const struct model_foldin *f, const struct model_blend *b,
			  const char *ease_table)
{
	json_t *o = json_object();
	int bad = !o;
	if (!bad && f)
		bad = set_real(o, "user_l2", f->user_l2) < 0 ||
		      set_real(o, "weight_alpha", f->weight_alpha) < 0 ||
		      set_real(o, "weight_norm", f->weight_norm) < 0 ||
		      set_int(o, "bias_last", f->bias_last ? 1 : 0) < 0;
	if (!bad && b) {
		json_t *p = json_object();
		bad = !p || json_object_set_new(o, "blend", p) < 0 ||
		      set_int(p, "k_e", (json_int_t)b->k_e) < 0 ||
		      set_int(p, "k_i", (json_int_t)b->k_i) < 0 ||
		      set_int(p, "m", (json_int_t)b->m) < 0 || set_real(p, "a_e", b->a_e) < 0 ||
		      set_real(p, "a_i", b->a_i) < 0 || set_real(p, "w_e", b->w_e) < 0 ||
		      set_real(p, "w_i", b->w_i) < 0 ||
		      set_real(p, "ials_alpha", b->ials_alpha) < 0 ||
		      set_real(p, "ials_reg", b->ials_reg) < 0;
	}
	if (!bad && ease_table)
		bad = json_object_set_new(o, "ease_table", json_string(ease_table)) < 0;
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

char *model_params_dumps(const struct model_foldin *f, const struct model_blend *b,
			 const char *ease_table)
{
	json_t *o = model_params_json(f, b, ease_table);
	char *s = o ? json_dumps(o, REAL_FLAGS) : NULL;
	json_decref(o);
	return s;
}

static double num_or(json_t *o, const char *key, double dflt)
{
	json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : dflt;
}

static int num(json_t *o, const char *key, double *v)
{
	json_t *x = json_object_get(o, key);
	if (!json_is_number(x) || !isfinite(json_number_value(x)))
		return -1;
	*v = json_number_value(x);
	return 0;
}

static int block(json_t *o, const char *key, size_t *v)
{
	double x;
	if (num(o, key, &x) < 0 || x < 0 || x > LFE_MAX_DIM || x != floor(x))
		return -1;
	*v = (size_t)x;
	return 0;
}

int model_fold_parse(struct model_fold *f, json_t *foldin, size_t dim, lf_error *err)
{
	memset(f, 0, sizeof *f);
	/* absent: as ml-pgload reads a .lfe without a foldin table */
	f->foldin.user_l2 = num_or(foldin, "user_l2", 0.0);
	f->foldin.weight_alpha = num_or(foldin, "weight_alpha", 0.0);
	f->foldin.weight_norm = num_or(foldin, "weight_norm", 1.0);
	f->foldin.bias_last = num_or(foldin, "bias_last", 0.0) != 0.0;
	json_t *o = json_object_get(foldin, "blend");
	if (!o)
		return 0;
	struct model_blend *b = &f->blend;
	if (!json_is_object(o) || block(o, "k_e", &b->k_e) < 0 || block(o, "k_i", &b->k_i) < 0 ||
	    block(o, "m", &b->m) < 0 || num(o, "a_e", &b->a_e) < 0 || num(o, "a_i", &b->a_i) < 0 ||
	    num(o, "w_e", &b->w_e) < 0 || num(o, "w_i", &b->w_i) < 0 ||
	    num(o, "ials_alpha", &b->ials_alpha) < 0 || num(o, "ials_reg", &b->ials_reg) < 0 ||
	    b->ials_alpha < 0 || b->ials_reg < 0)
		return lf_fail(err, EX_DATAERR, "embedding_sets.foldin's blend is malformed");
	if (b->k_e + b->k_i + b->m != dim)
		return lf_fail(err, EX_DATAERR, "the blend's blocks %zu + %zu + %zu are not dim %zu",
			       b->k_e, b->k_i, b->m, dim);
	json_t *t = json_object_get(foldin, "ease_table");
	if (b->k_e) {
		if (!json_is_string(t))
			return lf_fail(err, EX_DATAERR, "the blend has an EASE block but no ease_table");
		if (!(f->ease_table = strdup(json_string_value(t))))
			return lf_fail(err, EX_OSERR, "out of memory");
	}
	f->has_blend = 1;
	return 0;
}
