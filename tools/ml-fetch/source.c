/*
 * source.c — where the dataset comes from. A source is either a directory
 * of unpacked files or one blob (a zip archive, or a user's own ratings file
 * in u.data's format), local or fetched through lib/http. Only GroupLens'
 * archives are cached: large, immutable and with a published MD5, so a
 * cached copy can be proven right before each use. ml-latest-small changes
 * over time: its MD5 is read from the <zip>.md5 that GroupLens publishes
 * beside it ("MD5 (ml-latest-small.zip) = HEX" or "HEX  ml-latest-small.zip").
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zip.h>

#include "fetch.h"
#include "hash.h"
#include "http.h"
#include "util.h"

static int has_scheme(const char *s, const char *scheme)
{
	return strncasecmp(s, scheme, strlen(scheme)) == 0;
}

static int check_md5(const unsigned char *buf, size_t len, const char *want, const char *label,
		     lf_error *err)
{
	char got[33];
	md5_hex(buf, len, got);
	if (strcasecmp(got, want) != 0)
		return lf_fail(err, EX_DATAERR,
			       "%s: MD5 is %s, expected %s: corrupt or not the "
			       "expected file",
			       label, got, want);
	return 0;
}

static int read_path(const char *path, unsigned char **buf, size_t *len, lf_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return lf_fail_errno(err, errno == ENOENT ? EX_NOINPUT : EX_IOERR, errno, "%s",
				     path);
	int rc = read_all(f, path, FETCH_MAX_BYTES, buf, len, err);
	fclose(f);
	return rc;
}

/* mkdir -p for the cache directory (two levels at most are ours to make). */
static int make_dir(const char *path, lf_error *err)
{
	if (mkdir(path, 0777) != 0 && errno != EEXIST)
		return lf_fail_errno(err, EX_CANTCREAT, errno, "%s: cannot create", path);
	return 0;
}

/* The 32 hex digits of a <zip>.md5 file, in either of its two layouts. */
static int md5_file_value(const unsigned char *buf, size_t len, char out[33])
{
	const char *s = (const char *)buf, *eq = memchr(s, '=', len);
	size_t at = eq ? (size_t)(eq - s) + 1 : 0;
	while (at < len && (s[at] == ' ' || s[at] == '\t'))
		at++;
	size_t n = 0;
	while (at + n < len && n < 33 && isxdigit((unsigned char)s[at + n]))
		n++;
	if (n != 32)
		return -1;
	for (size_t i = 0; i < 32; i++)
		out[i] = (char)tolower((unsigned char)s[at + i]);
	out[32] = '\0';
	return 0;
}

/* The MD5 GroupLens publishes beside url ("<url>.md5"). */
static int published_md5(const char *url, char out[33], lf_error *err)
{
	char md5url[4096];
	unsigned char *buf = NULL;
	size_t len = 0;
	if ((size_t)snprintf(md5url, sizeof md5url, "%s.md5", url) >= sizeof md5url)
		return lf_fail(err, EX_USAGE, "%s: URL too long", url);
	if (http_get_url(md5url, 4096, &buf, &len, err))
		return -1;
	int rc = md5_file_value(buf, len, out);
	free(buf);
	if (rc)
		return lf_fail(err, EX_DATAERR, "%s: no MD5 (32 hex digits) in it", md5url);
	return 0;
}

/* The MD5 of a file, read in 1 MiB pieces (an archive is never held whole
 * for it). EX_NOINPUT when the file is missing. */
static int file_md5(const char *path, char hex[33], lf_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return lf_fail_errno(err, errno == ENOENT ? EX_NOINPUT : EX_IOERR, errno, "%s",
				     path);
	unsigned char *chunk = malloc(1 << 20), d[16];
	if (!chunk) {
		fclose(f);
		return lf_fail(err, EX_OSERR, "out of memory");
	}
	md5_ctx c;
	md5_init(&c);
	size_t n;
	while ((n = fread(chunk, 1, 1 << 20, f)) > 0)
		md5_update(&c, chunk, n);
	int bad = ferror(f);
	fclose(f);
	free(chunk);
	if (bad)
		return lf_fail_errno(err, EX_IOERR, EIO, "%s: read failed", path);
	md5_final(&c, d);
	hex_encode(d, 16, hex);
	return 0;
}

static int check_file_md5(const char *path, const char *want, lf_error *err)
{
	char got[33];
	if (file_md5(path, got, err))
		return -1;
	if (strcasecmp(got, want) != 0)
		return lf_fail(err, EX_DATAERR,
			       "%s: MD5 is %s, expected %s: corrupt or not the expected file", path,
			       got, want);
	return 0;
}

/* A GroupLens archive through the cache under <home>/cache: s->zip_path is
 * the checked cache file (s->data the download when it could not be cached). */
static int cached_get(const char *url, const char *zip, const char *md5, const char *home,
		      fetch_source *s, lf_error *err)
{
	unsigned char **buf = &s->data;
	size_t *len = &s->len;
	char dir[4096], path[4096 + 64];
	if ((size_t)snprintf(dir, sizeof dir, "%s/cache", home) >= sizeof dir)
		return lf_fail(err, EX_USAGE, "LENSFLOW_HOME is too long");
	snprintf(path, sizeof path, "%s/%s", dir, zip);
	lf_error cerr = {0};
	if (file_md5(path, (char[33]){0}, &cerr) == 0) {
		if (check_file_md5(path, md5, &cerr) == 0) {
			log_debug("using the cached %s", path);
			s->zip_path = strdup(path);
			return s->zip_path ? 0 : lf_fail(err, EX_OSERR, "out of memory");
		}
		log_info("%s; downloading it again", cerr.msg);
	}
	if (http_get_url(url, FETCH_MAX_BYTES, buf, len, err))
		return -1;
	if (check_md5(*buf, *len, md5, url, err)) {
		free(*buf);
		*buf = NULL;
		return -1;
	}
	/* The cache only saves a download: failing to write it is a warning. */
	atomic_out o;
	if (make_dir(home, &cerr) || make_dir(dir, &cerr) || atomic_out_open(&o, path, &cerr)) {
		log_info("warning: not cached: %s", cerr.msg);
		return 0;
	}
	if (fwrite(*buf, 1, *len, o.f) != *len) {
		atomic_out_abort(&o);
		log_info("warning: not cached: %s: write failed", path);
		return 0;
	}
	if (atomic_out_commit(&o, &cerr)) {
		log_info("warning: not cached: %s", cerr.msg);
		return 0;
	}
	/* read from the cache from now on: the download's memory goes back */
	s->zip_path = strdup(path);
	if (s->zip_path) {
		free(*buf);
		*buf = NULL;
		*len = 0;
	}
	return 0;
}

static int set_label(fetch_source *s, const char *label, lf_error *err)
{
	s->label = strdup(label);
	return s->label ? 0 : lf_fail(err, EX_OSERR, "out of memory");
}

static int open_path(const char *path, const char *md5, fetch_source *s, lf_error *err)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return lf_fail_errno(err,
				     errno == ENOENT || errno == ENOTDIR ? EX_NOINPUT : EX_IOERR,
				     errno, "%s", path);
	if (set_label(s, path, err))
		return -1;
	if (S_ISDIR(st.st_mode)) {
		if (md5)
			return lf_fail(err, EX_USAGE,
				       "--md5 checks a file or URL source, and %s is "
				       "a directory",
				       path);
		s->dir = strdup(path);
		return s->dir ? 0 : lf_fail(err, EX_OSERR, "out of memory");
	}
	/* a zip is read in place; anything else is a user's ratings file, read whole */
	unsigned char magic[4] = {0};
	FILE *f = fopen(path, "rb");
	int zip = f && fread(magic, 1, 4, f) == 4 &&
		  (memcmp(magic, "PK\3\4", 4) == 0 || memcmp(magic, "PK\5\6", 4) == 0);
	if (f)
		fclose(f);
	if (zip) {
		if (md5 && check_file_md5(path, md5, err))
			return -1;
		s->zip_path = strdup(path);
		s->is_zip = 1;
		return s->zip_path ? 0 : lf_fail(err, EX_OSERR, "out of memory");
	}
	if (read_path(path, &s->data, &s->len, err))
		return -1;
	return md5 ? check_md5(s->data, s->len, md5, path, err) : 0;
}

int source_open(const char *spec, const char *md5, const char *base, const char *home,
		fetch_source *s, lf_error *err)
{
	memset(s, 0, sizeof *s);
	int rc;
	if (has_scheme(spec, "file:")) {
		/* a directory is read in place; a file goes through libcurl like any URL */
		char *path = http_file_url_path(spec, err);
		struct stat st;
		if (!path)
			return -1;
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			rc = open_path(path, md5, s, err);
		} else {
			rc = set_label(s, path, err);
			if (rc == 0)
				rc = http_get_url(spec, FETCH_MAX_BYTES, &s->data, &s->len, err);
			if (rc == 0 && md5)
				rc = check_md5(s->data, s->len, md5, path, err);
		}
		free(path);
	} else if (has_scheme(spec, "http://") || has_scheme(spec, "https://")) {
		const char *q = strpbrk(spec, "?#");
		size_t end = q ? (size_t)(q - spec) : strlen(spec);
		const char *slash = spec + end;
		while (slash > spec && slash[-1] != '/')
			slash--;
		char label[256];
		snprintf(label, sizeof label, "%.*s", (int)(spec + end - slash), slash);
		if (set_label(s, label[0] ? label : spec, err))
			return -1;
		s->rel = release_of_url(spec, base);
		char want[33];
		if (s->rel) {
			rc = 0;
			if (!md5 && s->rel->md5)
				md5 = s->rel->md5;
			else if (!md5 && (rc = published_md5(spec, want, err)) == 0)
				md5 = want;
			if (rc == 0)
				rc = cached_get(spec, s->rel->zip, md5, home, s, err);
		} else {
			rc = http_get_url(spec, FETCH_MAX_BYTES, &s->data, &s->len, err);
			if (rc == 0 && md5)
				rc = check_md5(s->data, s->len, md5, spec, err);
		}
	} else if (strstr(spec, "://")) {
		return lf_fail(err, EX_USAGE, "%s: unsupported URL scheme (http, https, file)",
			       spec);
	} else {
		rc = open_path(spec, md5, s, err);
	}
	if (rc == 0 && s->data)
		s->is_zip = s->len >= 4 && (memcmp(s->data, "PK\3\4", 4) == 0 ||
					    memcmp(s->data, "PK\5\6", 4) == 0);
	if (rc == 0 && s->zip_path)
		s->is_zip = 1;
	return rc;
}

zip_t *source_zip(const fetch_source *s, lf_error *err)
{
	if (s->zip_path)
		return zip_open_path(s->zip_path, err);
	return zip_open_buffer(s->data, s->len, s->label, err);
}

int source_member(const fetch_source *s, const char *member, unsigned char **buf, size_t *len,
		  char **label, lf_error *err)
{
	if (s->dir) {
		size_t n = strlen(s->dir) + strlen(member) + 2;
		char *path = malloc(n);
		if (!path)
			return lf_fail(err, EX_OSERR, "out of memory");
		snprintf(path, n, "%s/%s", s->dir, member);
		if (read_path(path, buf, len, err)) {
			free(path);
			return -1;
		}
		*label = path;
		return 0;
	}
	if (s->is_zip) {
		char *found = NULL;
		zip_t *za = source_zip(s, err);
		if (!za)
			return -1;
		int rc = zip_member(za, s->label, member, buf, len, &found, err);
		zip_discard(za);
		if (rc)
			return -1;
		size_t n = strlen(s->label) + strlen(found) + 2;
		*label = malloc(n);
		if (!*label) {
			free(found);
			free(*buf);
			return lf_fail(err, EX_OSERR, "out of memory");
		}
		snprintf(*label, n, "%s:%s", s->label, found);
		free(found);
		return 0;
	}
	/* A single file is a user's own ratings: it stands for u.data only. */
	if (strcmp(member, "u.data") != 0)
		return lf_fail(err, EX_NOINPUT,
			       "%s is a single ratings file, not the dataset: it has no %s",
			       s->label, member);
	*buf = malloc(s->len + 1);
	*label = strdup(s->label);
	if (!*buf || !*label) {
		free(*buf);
		free(*label);
		return lf_fail(err, EX_OSERR, "out of memory");
	}
	memcpy(*buf, s->data, s->len);
	(*buf)[s->len] = '\0';
	*len = s->len;
	return 0;
}

int source_has(const fetch_source *s, const char *member)
{
	if (s->dir) {
		char path[4096];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", s->dir, member);
		return stat(path, &st) == 0 && S_ISREG(st.st_mode);
	}
	if (!s->is_zip)
		return 0;
	lf_error ignored = {0};
	zip_t *za = source_zip(s, &ignored);
	if (!za)
		return 0;
	int has = zip_find(za, member) >= 0;
	zip_discard(za);
	return has;
}

int source_kind(const fetch_source *s, release_kind *kind, lf_error *err)
{
	if (!s->dir && !s->is_zip) {
		*kind = KIND_100K; /* one file: a user's ratings in u.data's format */
		return 0;
	}
	if (s->is_zip) { /* a corrupt archive is named as such, not as "no release" */
		zip_t *za = source_zip(s, err);
		if (!za)
			return -1;
		zip_discard(za);
	}
	/* ML-100k's layout unless another release's ratings are there: a folder
	 * with none of them is then told which ML-100k file it lacks (EX_NOINPUT) */
	*kind = KIND_100K;
	if (source_has(s, "u.data") || source_has(s, "u.item"))
		return 0;
	if (source_has(s, "ratings.csv"))
		*kind = KIND_CSV;
	else if (source_has(s, "ratings.dat"))
		*kind = source_has(s, "users.dat") ? KIND_1M : KIND_10M;
	(void)err;
	return 0;
}

void source_free(fetch_source *s)
{
	free(s->dir);
	free(s->zip_path);
	free(s->data);
	free(s->label);
	memset(s, 0, sizeof *s);
}
