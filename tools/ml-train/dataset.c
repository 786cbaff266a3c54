/*
 * dataset.c — see dataset.h. Ids are sorted and deduplicated once; every
 * rating finds its rows by binary search. The CSR comes from two stable
 * counting passes (by item, then by user), so items end up ascending within
 * each user without a comparison sort per row.
 */
#include "dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "util.h"

static int cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

/* Sorted distinct values of v[0..n) into a new array. */
static int32_t *unique_sorted(int32_t *v, size_t n, size_t *n_out)
{
	qsort(v, n, sizeof *v, cmp_i32);
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (m == 0 || v[m - 1] != v[i])
			v[m++] = v[i];
	int32_t *out = lf_calloc(m, sizeof *out);
	if (!out)
		return NULL;
	memcpy(out, v, m * sizeof *out);
	*n_out = m;
	return out;
}

static size_t row_of(const int32_t *ids, size_t n, int32_t id)
{
	return ids_lower_bound(ids, n, id); /* ids holds every id: built from the same ratings */
}

/* *m is zeroed on failure: it never holds a freed pointer. */
static int csr_alloc(csr *m, size_t n_rows, size_t n)
{
	memset(m, 0, sizeof *m);
	size_t *start = lf_calloc(n_rows + 1, sizeof *start);
	int32_t *col = lf_calloc(n ? n : 1, sizeof *col);
	float *val = lf_calloc(n ? n : 1, sizeof *val);
	if (!start || !col || !val) {
		free(start), free(col), free(val);
		return -1;
	}
	*m = (csr){.n_rows = n_rows, .n = n, .start = start, .col = col, .val = val};
	return 0;
}

void csr_free(csr *m)
{
	free(m->start);
	free(m->col);
	free(m->val);
	memset(m, 0, sizeof *m);
}

int dataset_build(const ratings *r, dataset *d, lf_error *err)
{
	memset(d, 0, sizeof *d);
	if (r->n == 0)
		return lf_fail(err, EX_DATAERR, "no ratings to train on");
	size_t n = r->n;
	int32_t *tmp = lf_calloc(n, sizeof *tmp);
	size_t *u_of = lf_calloc(n, sizeof *u_of), *i_of = lf_calloc(n, sizeof *i_of);
	size_t *by_item = lf_calloc(n, sizeof *by_item);
	size_t *count = NULL;
	if (!tmp || !u_of || !i_of || !by_item)
		goto oom;
	for (size_t j = 0; j < n; j++)
		tmp[j] = r->rows[j].user;
	if (!(d->user_ids = unique_sorted(tmp, n, &d->n_users)))
		goto oom;
	for (size_t j = 0; j < n; j++)
		tmp[j] = r->rows[j].item;
	if (!(d->item_ids = unique_sorted(tmp, n, &d->n_items)))
		goto oom;
	for (size_t j = 0; j < n; j++) {
		u_of[j] = row_of(d->user_ids, d->n_users, r->rows[j].user);
		i_of[j] = row_of(d->item_ids, d->n_items, r->rows[j].item);
	}
	size_t buckets = d->n_users > d->n_items ? d->n_users : d->n_items;
	if (!(count = lf_calloc(buckets + 1, sizeof *count)))
		goto oom;
	/* stable counting sort by item, then by user */
	for (size_t j = 0; j < n; j++)
		count[i_of[j] + 1]++;
	for (size_t b = 0; b < d->n_items; b++)
		count[b + 1] += count[b];
	for (size_t j = 0; j < n; j++)
		by_item[count[i_of[j]]++] = j;
	if (csr_alloc(&d->all, d->n_users, n) < 0)
		goto oom;
	for (size_t j = 0; j < n; j++)
		d->all.start[u_of[j] + 1]++;
	for (size_t u = 0; u < d->n_users; u++)
		d->all.start[u + 1] += d->all.start[u];
	memcpy(count, d->all.start, d->n_users * sizeof *count);
	for (size_t t = 0; t < n; t++) {
		size_t j = by_item[t];
		size_t at = count[u_of[j]]++;
		d->all.col[at] = (int32_t)i_of[j];
		d->all.val[at] = (float)r->rows[j].rating;
	}
	free(tmp), free(u_of), free(i_of), free(by_item), free(count);
	return 0;
oom:
	free(tmp), free(u_of), free(i_of), free(by_item), free(count);
	dataset_free(d);
	return lf_fail(err, EX_OSERR, "out of memory indexing %zu ratings", n);
}

void dataset_free(dataset *d)
{
	free(d->user_ids);
	free(d->item_ids);
	csr_free(&d->all);
	memset(d, 0, sizeof *d);
}

static int cmp_pos(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return (x > y) - (x < y);
}

int holdout_split(const csr *all, double ratio, uint64_t seed, csr *fit, csr *val, lf_error *err)
{
	memset(fit, 0, sizeof *fit);
	memset(val, 0, sizeof *val);
	size_t n_fit = 0;
	for (size_t u = 0; u < all->n_rows; u++)
		n_fit += (size_t)nearbyint(ratio * (double)(all->start[u + 1] - all->start[u]));
	size_t *pos = lf_calloc(all->n ? all->n : 1, sizeof *pos);
	if (!pos || csr_alloc(fit, all->n_rows, n_fit) < 0 ||
	    csr_alloc(val, all->n_rows, all->n - n_fit) < 0) {
		free(pos);
		csr_free(fit);
		csr_free(val);
		return lf_fail(err, EX_OSERR, "out of memory for the validation split");
	}
	rng g;
	rng_seed(&g, seed);
	for (size_t u = 0; u < all->n_rows; u++) {
		size_t a = all->start[u], m = all->start[u + 1] - a;
		size_t keep = (size_t)nearbyint(ratio * (double)m);
		for (size_t t = 0; t < m; t++)
			pos[t] = a + t;
		rng_shuffle(&g, pos, m, sizeof *pos);
		/* each side back in item order (positions are ascending by item) */
		qsort(pos, keep, sizeof *pos, cmp_pos);
		qsort(pos + keep, m - keep, sizeof *pos, cmp_pos);
		size_t f = fit->start[u], v = val->start[u];
		for (size_t t = 0; t < m; t++) {
			csr *dst = t < keep ? fit : val;
			size_t at = t < keep ? f++ : v++;
			dst->col[at] = all->col[pos[t]];
			dst->val[at] = all->val[pos[t]];
		}
		fit->start[u + 1] = f;
		val->start[u + 1] = v;
	}
	free(pos);
	return 0;
}
