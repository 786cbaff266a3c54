/*
 * blendfold.c — see blendfold.h. The EASE table is read in binary (int4 id,
 * pgvector's binary vector), like the snapshot's movies.
 */
#include "blendfold.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pgbin.h"

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
	if (num(o, key, &x) < 0 || x < 0 || x > 16000 || x != floor(x))
		return -1;
	*v = (size_t)x;
	return 0;
}

int blendfold_parse(struct blendfold *b, json_t *foldin, size_t dim, lf_error *err)
{
	memset(b, 0, sizeof *b);
	json_t *o = json_object_get(foldin, "blend");
	if (!o)
		return 0;
	double a_e;
	if (!json_is_object(o) || block(o, "k_e", &b->ke) < 0 || block(o, "k_i", &b->ki) < 0 ||
	    block(o, "m", &b->m) < 0 || num(o, "a_e", &a_e) < 0 || num(o, "a_i", &b->a_i) < 0 ||
	    num(o, "ials_alpha", &b->alpha) < 0 || num(o, "ials_reg", &b->reg) < 0 ||
	    b->alpha < 0 || b->reg < 0)
		return lf_fail(err, EX_DATAERR, "embedding_sets.foldin's blend is malformed");
	if (b->ke + b->ki + b->m != dim)
		return lf_fail(err, EX_DATAERR, "the blend's blocks %zu + %zu + %zu are not dim %zu",
			       b->ke, b->ki, b->m, dim);
	json_t *t = json_object_get(foldin, "ease_table");
	if (b->ke) {
		if (!json_is_string(t))
			return lf_fail(err, EX_DATAERR, "the blend has an EASE block but no ease_table");
		if (!(b->ease_table = strdup(json_string_value(t))))
			return lf_fail(err, EX_OSERR, "out of memory");
	}
	b->present = 1;
	return 0;
}

static int load_ease(struct blendfold *b, PGconn *conn, const int32_t *item_ids, size_t n,
		     lf_error *err)
{
	char *q = PQescapeIdentifier(conn, b->ease_table, strlen(b->ease_table));
	if (!q)
		return lf_fail(err, EX_OSERR, "out of memory");
	char sql[320];
	int len = snprintf(sql, sizeof sql, "SELECT movie_id, ease FROM %s ORDER BY movie_id", q);
	PQfreemem(q);
	if (len < 0 || (size_t)len >= sizeof sql)
		return lf_fail(err, EX_DATAERR, "the EASE table's name is too long");
	PGresult *r = PQexecParams(conn, sql, 0, NULL, NULL, NULL, NULL, 1);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *m = PQerrorMessage(conn);
		lf_fail(err, PQstatus(conn) == CONNECTION_OK ? EX_DATAERR : EX_UNAVAILABLE,
			"reading the set's EASE fold-in: %.*s", (int)strcspn(m, "\n"), m);
		PQclear(r);
		return -1;
	}
	size_t ke = b->ke;
	if ((size_t)PQntuples(r) != n) {
		PQclear(r);
		return lf_fail(err, EX_DATAERR, "the EASE fold-in has %d movies, the set %zu",
			       PQntuples(r), n);
	}
	if (!(b->ease = malloc(n * ke * sizeof *b->ease))) {
		PQclear(r);
		return lf_fail(err, EX_OSERR, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		int32_t id;
		if (pgbin_int4(r, (int)i, 0, &id) < 0 || id != item_ids[i] ||
		    pgbin_vector(r, (int)i, 1, ke, b->ease + i * ke, NULL) < 0) {
			PQclear(r);
			return lf_fail(err, EX_DATAERR,
				       "EASE fold-in row %zu does not match the set's movies", i);
		}
	}
	PQclear(r);
	return 0;
}

int blendfold_load(struct blendfold *b, PGconn *conn, const int32_t *item_ids, size_t n,
		   const double *items, size_t dim, lf_error *err)
{
	if (!b->present)
		return 0;
	if (b->ke && load_ease(b, conn, item_ids, n, err) < 0)
		return -1;
	return blendfold_derive(b, items, n, dim, err);
}

int blendfold_derive(struct blendfold *b, const double *items, size_t n, size_t dim,
		     lf_error *err)
{
	size_t ki = b->ki, m = b->m, off = b->ke;
	if (ki) { /* G = Q'^T Q' + reg I, upper triangle */
		if (!(b->gram = calloc(ki * ki, sizeof *b->gram)))
			return lf_fail(err, EX_OSERR, "out of memory");
		for (size_t i = 0; i < n; i++) {
			const double *q = items + i * dim + off;
			for (size_t j = 0; j < ki; j++)
				for (size_t k = j; k < ki; k++)
					b->gram[j * ki + k] += q[j] * q[k];
		}
		for (size_t j = 0; j < ki; j++)
			b->gram[j * ki + j] += b->reg;
	}
	if (m) {
		if (!(b->mf = malloc((n ? n : 1) * m * sizeof *b->mf)))
			return lf_fail(err, EX_OSERR, "out of memory");
		for (size_t i = 0; i < n; i++)
			memcpy(b->mf + i * m, items + i * dim + off + ki, m * sizeof *b->mf);
	}
	return 0;
}

static int ials_block(const struct blendfold *b, const double *items, size_t dim,
		      const size_t *rows, size_t n_rows, double *out, lf_error *err)
{
	size_t ki = b->ki, off = b->ke;
	double *a = malloc(ki * ki * sizeof *a);
	if (!a)
		return lf_fail(err, EX_OSERR, "fold-in: out of memory");
	memcpy(a, b->gram, ki * ki * sizeof *a);
	memset(out, 0, ki * sizeof *out);
	for (size_t r = 0; r < n_rows; r++) {
		const double *q = items + rows[r] * dim + off;
		for (size_t j = 0; j < ki; j++) {
			out[j] += q[j];
			double aj = b->alpha * q[j];
			for (size_t k = j; k < ki; k++)
				a[j * ki + k] += aj * q[k];
		}
	}
	for (size_t j = 0; j < ki; j++)
		out[j] *= 1.0 + b->alpha;
	int rc = foldin_cholesky(a, out, ki);
	free(a);
	if (rc < 0)
		return lf_fail(err, EX_SOFTWARE, "fold-in: the iALS system is not positive definite");
	for (size_t j = 0; j < ki; j++)
		out[j] *= b->a_i;
	return 0;
}

int blendfold_solve(const struct blendfold *b, const double *items, size_t n, size_t dim,
		    const size_t *rows, size_t n_rows, const struct foldin_params *fp, double *out,
		    lf_error *err)
{
	if (n_rows == 0 || b->ke + b->ki + b->m != dim)
		return lf_fail(err, EX_SOFTWARE, "fold-in: empty input or bad dimension");
	for (size_t r = 0; r < n_rows; r++)
		if (rows[r] >= n)
			return lf_fail(err, EX_SOFTWARE, "fold-in: row out of range");
	memset(out, 0, dim * sizeof *out);
	for (size_t r = 0; r < n_rows; r++) { /* EASE: X_u F */
		const float *f = b->ease + rows[r] * b->ke;
		for (size_t j = 0; j < b->ke; j++)
			out[j] += f[j];
	}
	if (b->ki && ials_block(b, items, dim, rows, n_rows, out + b->ke, err) < 0)
		return -1;
	if (b->m && foldin_solve(b->mf, n, b->m, rows, n_rows, fp, out + b->ke + b->ki, err) < 0)
		return -1;
	return 0;
}

void blendfold_free(struct blendfold *b)
{
	free(b->ease_table);
	free(b->ease);
	free(b->gram);
	free(b->mf);
	memset(b, 0, sizeof *b);
}
