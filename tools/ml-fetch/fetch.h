/*
 * fetch.h — ml-fetch's parts: which GroupLens release (dataset.c), where it
 * comes from (a directory, a zip archive, a user's own ratings file; local
 * or through lib/http, with GroupLens' archives cached and MD5-verified),
 * how a member is read (whole, or line by line for the big ratings files),
 * and how each release's files become the TSVs the other tools read.
 *
 * Every function returns 0 / -1 and fills an lf_error (sysexits code + one
 * line). Buffers handed out are malloc'd; the caller frees them.
 */
#ifndef ML_FETCH_H
#define ML_FETCH_H

#include <stddef.h>
#include <stdio.h>

#include "hash.h"
#include "log.h"
#include "util.h"

#define GROUPLENS_BASE "https://files.grouplens.org/datasets/movielens"
#define FETCH_MAX_BYTES ((size_t)1 << 30) /* no archive, nor a member read whole, beyond 1 GiB */

/* ---- db.c ---- */

/* 1 when src is a postgresql:// or postgres:// URL. */
int db_url_is(const char *src);
/* Table name of the database at url as TSV (lib/store_online.h) into a new buffer. */
int db_export(const char *url, const char *name, char **out, size_t *len, lf_error *err);

/* ---- dataset.c ---- */

/* The file layouts of GroupLens' releases. */
typedef enum release_kind {
	KIND_100K, /* u.data (tab), u.item (Latin-1, '|'), u.genre, u.user, u1.base … ub.test */
	KIND_1M,   /* ratings.dat, movies.dat (Latin-1), users.dat: '::'-separated */
	KIND_10M,  /* ratings.dat (half stars), movies.dat: '::'-separated; no users */
	KIND_CSV   /* ratings.csv, movies.csv with a header, quoted titles, UTF-8 (20M on) */
} release_kind;

typedef struct release {
	const char *name; /* "ml-25m" */
	const char *zip;  /* its archive's name under GROUPLENS_BASE */
	const char *md5;  /* the published MD5 of the archive; NULL: read <zip>.md5 each time */
	release_kind kind;
} release;

/* The release called name ("ml-25m"), or NULL. */
const release *release_find(const char *name);
/* The release whose archive URL is url under base (GROUPLENS_BASE, or
 * $LENSFLOW_GROUPLENS_URL), or NULL. */
const release *release_of_url(const char *url, const char *base);
const char *kind_name(release_kind k); /* "ML-100K's", for messages */
/* Space-separated names of every release, for messages and --help. */
const char *release_names(void);

/* ---- source.c ---- */

typedef struct fetch_source {
	const release *rel;  /* the GroupLens archive it was fetched as, or NULL */
	char *dir;	     /* a directory of unpacked files, or NULL */
	char *zip_path;	     /* a zip file read in place (a local or cached archive), or NULL */
	unsigned char *data; /* else the whole content: a zip, or one ratings file */
	size_t len;
	int is_zip;	     /* zip_path, or data holding a zip */
	char *label; /* names the source in messages ("ml-100k.zip", "DIR") */
} fetch_source;

/* Resolves spec (URL, file:// URL, directory or file). md5 (or NULL) is
 * checked against the bytes of a file or URL source; a release's archive
 * under base (GROUPLENS_BASE or a mirror) is always checked, against md5 or
 * else the published MD5 (ml-latest-small: the <zip>.md5 beside it), and
 * cached as <home>/cache/<zip>. */
int source_open(const char *spec, const char *md5, const char *base, const char *home,
		fetch_source *s, lf_error *err);
/* Opens the source's zip (is_zip): the file in place, or the bytes in memory.
 * EX_DATAERR when it is not a valid zip. zip_discard frees. */
struct zip *source_zip(const fetch_source *s, lf_error *err);
/* True when the source holds member (a file of the directory, a member of
 * the zip at its top or in one folder). */
int source_has(const fetch_source *s, const char *member);
/* The layout the source's files show: u.data or u.item → 100K, ratings.csv
 * → CSV, ratings.dat with users.dat → 1M, without → 10M; none of them →
 * 100K (whose missing file is then named). EX_DATAERR: a corrupt zip. */
int source_kind(const fetch_source *s, release_kind *kind, lf_error *err);
/* Reads member (e.g. "u.data") into a new NUL-terminated buffer; *label
 * (new string) names it for messages. EX_NOINPUT when it is missing. */
int source_member(const fetch_source *s, const char *member, unsigned char **buf, size_t *len,
		  char **label, lf_error *err);
void source_free(fetch_source *s);

/* ---- zipread.c ---- */

/* Opens a zip held in memory (borrowed; it must outlive the archive),
 * ZIP_CHECKCONS. EX_DATAERR when it is not a valid zip. zip_discard frees. */
struct zip *zip_open_buffer(const unsigned char *zip, size_t zlen, const char *zipname,
			    lf_error *err);
/* The index of "<member>" or "<folder>/<member>" (one folder deep), or -1. */
long zip_find(struct zip *za, const char *member);
/* Opens a zip file in place, ZIP_CHECKCONS. EX_DATAERR when it is not a zip. */
struct zip *zip_open_path(const char *path, lf_error *err);
/* Extracts member from an open zip; CRC and size are checked by reading it
 * whole. EX_DATAERR for a corrupt archive, EX_NOINPUT when the member is
 * absent. *found (new string) is its name in the archive. */
int zip_member(struct zip *za, const char *zipname, const char *member, unsigned char **buf,
	       size_t *len, char **found, lf_error *err);

/* ---- lines.c: a member read line by line, in bounded memory ---- */

typedef struct line_reader {
	FILE *f;		 /* a file of a directory, or */
	struct zip *za;		 /* a member of a zip */
	struct zip_file *zf;
	char *buf;		 /* unread bytes are [start, end) */
	size_t cap, start, end;
	int eof;
	size_t lineno;		 /* of the line last returned */
	char *label;		 /* names the member in messages */
} line_reader;

/* EX_NOINPUT when the member is absent; a single-file source has none. */
int lines_open(const fetch_source *s, const char *member, line_reader *r, lf_error *err);
/* The next line without its '\n' (a last line without one too): 1, 0 at the
 * end, -1 on a read error, a corrupt zip (CRC) or a line over 1 MiB. */
int lines_next(line_reader *r, const char **line, size_t *len, lf_error *err);
void lines_close(line_reader *r);

/* ---- sink.c: the output, whole or absent, with its SHA-256 ---- */

typedef struct out_sink {
	FILE *f;	   /* stdout or atomic.f */
	atomic_out atomic; /* of -o FILE */
	int to_file;
	const char *name;  /* "stdout" or the path, for messages */
	sha256_ctx sha;
	int failed;	   /* errno of the first failed write, or 0 */
} out_sink;

/* path NULL: stdout (truncated back on failure when it is a regular file). */
int sink_open(out_sink *o, const char *path, lf_error *err);
void sink_write(out_sink *o, const void *data, size_t len);
/* Commits (renames -o FILE into place) and gives the hex SHA-256 of all written. */
int sink_commit(out_sink *o, char hex[65], lf_error *err);
void sink_abort(out_sink *o);

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

/* ---- convert_ml.c: ML-1M, ML-10M and the CSV releases ---- */

/* ratings.dat ('::') or ratings.csv (header) → ratings TSV, streamed line by
 * line into o. Each field strict (ids 0..INT32_MAX, the rating on the half-
 * star scale, an integer timestamp); each user's ratings together, as in
 * every release, so repeats are found per user in bounded memory. */
int convert_ratings_stream(line_reader *r, release_kind kind, out_sink *o, size_t *rows,
			   lf_error *err);
/* movies.dat (Latin-1 unless the whole file is valid UTF-8) or movies.csv
 * (UTF-8, RFC 4180 quoting) → movies TSV (release_date empty; genres joined
 * by '|', "(no genres listed)" as none), checked by movies_parse. */
int convert_movies_ml(const char *buf, size_t len, const char *name, release_kind kind,
		      char **out, size_t *olen, lf_error *err);
/* ML-1M's users.dat → users TSV (age group code, gender, occupation name, zip). */
int convert_users_1m(const char *buf, size_t len, const char *name, char **out, size_t *olen,
		     lf_error *err);

#endif
