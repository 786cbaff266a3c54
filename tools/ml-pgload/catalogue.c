/*
 * catalogue.c — the movies and ratings files read, checked (every rating's
 * movie in the catalogue, its time in Postgres' range), sorted by (user,
 * movie) so that one user's rated movies sit on a few pages, identified by
 * the SHA-256 of both files, and loaded by lib/store (store_catalogue_load).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "pg.h"
#include "pgload.h"
#include "store.h"
#include "tsv.h"
#include "util.h"

#define FILE_MAX ((size_t)1 << 30)

static int read_file(const char *path, unsigned char **buf, size_t *len, lf_error *err)
{
	FILE *f = fopen(path, "rb");

	if (!f)
		return lf_fail_errno(err, errno == ENOENT ? EX_NOINPUT : EX_IOERR, errno,
				     "cannot open %s", path);
	int rc = read_all(f, path, FILE_MAX, buf, len, err);
	fclose(f);
	return rc;
}

static int by_user_movie(const void *a, const void *b)
{
	const rating_row *x = a, *y = b;
	if (x->user != y->user)
		return x->user < y->user ? -1 : 1;
	return (x->item > y->item) - (x->item < y->item);
}

static int by_id(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

/* Every rating's timestamp fits Postgres and its movie is in the catalogue. */
static int check_ratings(const movies *mv, const ratings *rt, const char *mpath, const char *rpath,
			 lf_error *err)
{
	int32_t *ids = lf_calloc(mv->n ? mv->n : 1, sizeof *ids);

	if (!ids)
		return lf_fail(err, EX_OSERR, "out of memory");
	for (size_t i = 0; i < mv->n; i++)
		ids[i] = mv->rows[i].id;
	qsort(ids, mv->n, sizeof *ids, by_id);
	for (size_t i = 0; i < rt->n; i++) {
		const rating_row *r = &rt->rows[i];
		if (!pg_unix_time_ok(r->ts)) {
			free(ids);
			return lf_fail(
				err, EX_DATAERR,
				"%s: user %d, movie %d: timestamp %lld is outside Postgres' range",
				rpath, r->user, r->item, (long long)r->ts);
		}
		if (!bsearch(&r->item, ids, mv->n, sizeof *ids, by_id)) {
			free(ids);
			return lf_fail(err, EX_DATAERR,
				       "%s: user %d rated movie %d, which %s lacks", rpath, r->user,
				       r->item, mpath);
		}
	}
	free(ids);
	return 0;
}

int catalogue_load(PGconn *c, const char *movies_path, const char *ratings_path, int *loaded,
		   lf_error *err)
{
	unsigned char *mb = NULL, *rb = NULL;
	size_t ml = 0, rl = 0;
	movies mv = {0};
	ratings rt = {0};
	char checksum[2 * 64 + 2];
	int rc = -1;

	if (read_file(movies_path, &mb, &ml, err) < 0 || read_file(ratings_path, &rb, &rl, err) < 0)
		goto out;
	/* "<sha256 of movies>:<sha256 of ratings>" identifies the loaded pair */
	sha256_hex(mb, ml, checksum);
	checksum[64] = ':';
	sha256_hex(rb, rl, checksum + 65);
	if (movies_parse((const char *)mb, ml, movies_path, &mv, err) < 0 ||
	    ratings_parse((const char *)rb, rl, ratings_path, &rt, err) < 0 ||
	    check_ratings(&mv, &rt, movies_path, ratings_path, err) < 0)
		goto out;
	qsort(rt.rows, rt.n, sizeof *rt.rows, by_user_movie);
	if (store_catalogue_load(c, &mv, &rt, checksum, loaded, err) < 0)
		goto out;
	int r = *loaded;
	log_info("catalogue: %zu movies, %zu ratings %s", mv.n, rt.n,
		 r ? "loaded" : "already loaded");
	rc = 0;
out:
	free(mb);
	free(rb);
	movies_free(&mv);
	ratings_free(&rt);
	return rc;
}
