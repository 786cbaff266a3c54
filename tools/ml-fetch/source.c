/*
 * source.c — where the dataset comes from. A source is either a directory
 * of unpacked files or one blob (a zip archive, or a user's own ratings file
 * in u.data's format), local or fetched through libcurl. Only the GroupLens
 * archive is cached: it is large-ish, immutable and has a published MD5, so
 * a cached copy can be proven right before each use.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "fetch.h"
#include "hash.h"
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

/* The GroupLens archive through the cache under <home>/cache. */
static int cached_get(const char *url, const char *md5, const char *home, unsigned char **buf,
		      size_t *len, lf_error *err)
{
	char dir[4096], path[4096 + 32];
	if ((size_t)snprintf(dir, sizeof dir, "%s/cache", home) >= sizeof dir)
		return lf_fail(err, EX_USAGE, "LENSFLOW_HOME is too long");
	snprintf(path, sizeof path, "%s/ml-100k.zip", dir);
	lf_error cerr = {0};
	if (read_path(path, buf, len, &cerr) == 0) {
		if (check_md5(*buf, *len, md5, path, &cerr) == 0) {
			log_debug("using the cached %s", path);
			return 0;
		}
		log_info("%s; downloading it again", cerr.msg);
		free(*buf);
		*buf = NULL;
	}
	if (url_get(url, FETCH_MAX_BYTES, buf, len, err))
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
	if (atomic_out_commit(&o, &cerr))
		log_info("warning: not cached: %s", cerr.msg);
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
	if (read_path(path, &s->data, &s->len, err))
		return -1;
	return md5 ? check_md5(s->data, s->len, md5, path, err) : 0;
}

int source_open(const char *spec, const char *md5, const char *home, fetch_source *s, lf_error *err)
{
	memset(s, 0, sizeof *s);
	int rc;
	if (has_scheme(spec, "file:")) {
		/* a directory is read in place; a file goes through libcurl like any URL */
		char *path = file_url_path(spec, err);
		struct stat st;
		if (!path)
			return -1;
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			rc = open_path(path, md5, s, err);
		} else {
			rc = set_label(s, path, err);
			if (rc == 0)
				rc = url_get(spec, FETCH_MAX_BYTES, &s->data, &s->len, err);
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
		if (strcmp(spec, GROUPLENS_URL) == 0) {
			rc = cached_get(spec, md5 ? md5 : GROUPLENS_MD5, home, &s->data, &s->len,
					err);
		} else {
			rc = url_get(spec, FETCH_MAX_BYTES, &s->data, &s->len, err);
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
	return rc;
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
		if (zip_member(s->data, s->len, s->label, member, buf, len, &found, err))
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

void source_free(fetch_source *s)
{
	free(s->dir);
	free(s->data);
	free(s->label);
	memset(s, 0, sizeof *s);
}
