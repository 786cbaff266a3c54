/*
 * fetch.h — ml-fetch's parts: where the dataset comes from (a directory, a
 * zip archive, a user's own ratings file; local or through libcurl, with
 * the GroupLens archive cached and MD5-verified), how one member is read,
 * and how u.item / u.user become the TSVs the other tools read.
 *
 * Every function returns 0 / -1 and fills an lf_error (sysexits code + one
 * line). Buffers handed out are malloc'd; the caller frees them.
 */
#ifndef ML_FETCH_H
#define ML_FETCH_H

#include <stddef.h>

#include "log.h"

#define GROUPLENS_URL "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
#define GROUPLENS_MD5 "0e33842e24a9c977be4e0107933c0723"
#define FETCH_MAX_BYTES ((size_t)1 << 30) /* no source or member beyond 1 GiB */

/* ---- db.c ---- */

/* 1 when src is a postgresql:// or postgres:// URL. */
int db_url_is(const char *src);
/* Table name of the database at url as TSV (lib/store_online.h) into a new buffer. */
int db_export(const char *url, const char *name, char **out, size_t *len, lf_error *err);

/* ---- net.c ---- */

/* GETs url (http, https or file) into a new buffer: redirects followed,
 * HTTP >= 400 a failure, connect/stall timeouts. Errors: EX_UNAVAILABLE
 * (network, HTTP), EX_NOINPUT (file:// that does not exist), EX_DATAERR
 * (larger than max). */
int url_get(const char *url, size_t max, unsigned char **buf, size_t *len, lf_error *err);
/* The local path of a file:// URL (percent-decoded, new string), or NULL
 * with err filled when the URL is not a plain local file URL. */
char *file_url_path(const char *url, lf_error *err);

/* ---- source.c ---- */

typedef struct fetch_source {
	char *dir;	     /* a directory of unpacked files, or NULL */
	unsigned char *data; /* else the whole content: a zip, or one ratings file */
	size_t len;
	int is_zip;
	char *label; /* names the source in messages ("ml-100k.zip", "DIR") */
} fetch_source;

/* Resolves spec (URL, file:// URL, directory or file). md5 (or NULL) is
 * checked against the bytes of a file or URL source; the GroupLens URL is
 * always checked and cached as <home>/cache/ml-100k.zip. */
int source_open(const char *spec, const char *md5, const char *home, fetch_source *s,
		lf_error *err);
/* Reads member (e.g. "u.data") into a new NUL-terminated buffer; *label
 * (new string) names it for messages. EX_NOINPUT when it is missing. */
int source_member(const fetch_source *s, const char *member, unsigned char **buf, size_t *len,
		  char **label, lf_error *err);
void source_free(fetch_source *s);

/* ---- zipread.c ---- */

/* Extracts "ml-100k/<member>" or "<member>" from a zip in memory; CRC and
 * size are checked by reading it whole. EX_DATAERR for a corrupt archive,
 * EX_NOINPUT when the member is absent. *found (new string) is its name. */
int zip_member(const unsigned char *zip, size_t zlen, const char *zipname, const char *member,
	       unsigned char **buf, size_t *len, char **found, lf_error *err);

/* ---- convert.c ---- */

/* u.item (Latin-1, '|'-separated, 19 genre flags) + u.genre → movies TSV
 * (UTF-8), checked by the strict movies reader before it is returned. */
int convert_movies(const char *item, size_t ilen, const char *item_name, const char *genre,
		   size_t glen, const char *genre_name, char **out, size_t *olen, lf_error *err);
/* u.user → "user_id\tage\tgender\toccupation\tzip_code" lines, each field
 * checked (unique ids, age 0..200, gender M or F). */
int convert_users(const char *user, size_t ulen, const char *name, char **out, size_t *olen,
		  lf_error *err);
/* Ratings validated by ratings_parse and written back canonically. */
int convert_ratings(const char *buf, size_t len, const char *name, char **out, size_t *olen,
		    lf_error *err);

#endif
