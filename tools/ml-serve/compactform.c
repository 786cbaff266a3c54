/*
 * compactform.c — see compactform.h. The tables are read by lib/store_compact.
 */
#include "compactform.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store_compact.h"

int compactform_parse(struct compact_form *c, json_t *foldin, size_t dim, lf_error *err)
{
	memset(c, 0, sizeof *c);
	json_t *o = json_object_get(foldin, "compact");
	if (!o)
		return 0;
	json_t *w = json_object_get(o, "full_dim"), *f = json_object_get(o, "fold_table"),
	       *m = json_object_get(o, "map_table");
	double wd = json_is_number(w) ? json_number_value(w) : -1;
	if (!json_is_string(f) || !json_is_string(m) || !(wd >= 1 && wd <= 16000) ||
	    wd != floor(wd) || (size_t)wd <= dim)
		return lf_fail(err, EX_DATAERR, "embedding_sets.foldin's compact is malformed");
	c->wdim = (size_t)wd;
	if (!(c->fold_table = strdup(json_string_value(f))) ||
	    !(c->map_table = strdup(json_string_value(m))))
		return lf_fail(err, EX_OSERR, "out of memory");
	c->present = 1;
	return 0;
}

int compactform_load(struct compact_form *c, PGconn *conn, const int32_t *item_ids, size_t n,
		     size_t dim, lf_error *err)
{
	if (!c->present)
		return 0;
	if (!(c->fold = malloc(n * c->wdim * sizeof *c->fold)) ||
	    !(c->map = malloc(c->wdim * dim * sizeof *c->map)))
		return lf_fail(err, EX_OSERR, "out of memory");
	return store_compact_read(conn, c->fold_table, c->map_table, item_ids, n, c->wdim, dim,
				  c->fold, c->map, err);
}

void compactform_map(const struct compact_form *c, const double *full, size_t dim, double *out)
{
	for (size_t j = 0; j < dim; j++)
		out[j] = 0;
	for (size_t k = 0; k < c->wdim; k++) {
		const double *row = c->map + k * dim;
		for (size_t j = 0; j < dim; j++)
			out[j] += full[k] * row[j];
	}
}

void compactform_free(struct compact_form *c)
{
	free(c->fold_table);
	free(c->map_table);
	free(c->fold);
	free(c->map);
	memset(c, 0, sizeof *c);
}
