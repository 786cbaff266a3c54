/*
 * inputs.c — see inputs.h.
 */
#include "inputs.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mlog.h"
#include "util.h"

#define SHOW 40 /* bytes of a bad field quoted in a message */

int kvlist_put(kvlist *l, const char *key, const char *value, size_t max_value, int replace,
	       const char *where, lf_error *err)
{
	if (!mlflow_key_valid(key))
		return lf_fail(
			err, EX_DATAERR,
			"%s: name '%.*s' is not valid for MLflow (1-250 of A-Z a-z 0-9 _ - . "
			"space : /)",
			where, SHOW, key);
	if (strlen(value) > max_value)
		return lf_fail(err, EX_DATAERR, "%s: value of %s is longer than %zu bytes", where,
			       key, max_value);
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->items[i].key, key) != 0)
			continue;
		if (!replace)
			return lf_fail(err, EX_DATAERR, "%s: %s repeated", where, key);
		char *v = strdup(value);
		if (!v)
			return lf_fail(err, EX_OSERR, "out of memory");
		free((char *)l->items[i].value);
		l->items[i].value = v;
		return 0;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		mlflow_kv *p = lf_reallocarray(l->items, cap, sizeof *p);
		if (!p)
			return lf_fail(err, EX_OSERR, "out of memory");
		l->items = p;
		l->cap = cap;
	}
	char *k = strdup(key), *v = strdup(value);
	if (!k || !v) {
		free(k);
		free(v);
		return lf_fail(err, EX_OSERR, "out of memory");
	}
	l->items[l->n].key = k;
	l->items[l->n++].value = v;
	return 0;
}

int kvlist_put_arg(kvlist *l, const char *arg, size_t max_value, const char *opt, lf_error *err)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg)
		return lf_fail(err, EX_USAGE, "%s '%.*s': expected KEY=VALUE", opt, SHOW, arg);
	char *key = strndup(arg, (size_t)(eq - arg));
	if (!key)
		return lf_fail(err, EX_OSERR, "out of memory");
	int rc = kvlist_put(l, key, eq + 1, max_value, 1, opt, err);
	free(key);
	if (rc != 0 && err->code == EX_DATAERR)
		err->code = EX_USAGE; /* a bad option value, not bad data */
	return rc;
}

const char *kvlist_get(const kvlist *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->items[i].key, key) == 0)
			return l->items[i].value;
	return NULL;
}

void kvlist_free(kvlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free((char *)l->items[i].key);
		free((char *)l->items[i].value);
	}
	free(l->items);
	memset(l, 0, sizeof *l);
}

int steplist_push(steplist *l, const char *key, double value, int64_t step, int64_t ts_ms)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		mlflow_metric *p = lf_reallocarray(l->items, cap, sizeof *p);
		if (!p)
			return -1;
		l->items = p;
		l->cap = cap;
	}
	char *k = strdup(key);
	if (!k)
		return -1;
	mlflow_metric *m = &l->items[l->n++];
	m->key = k;
	m->value = value;
	m->step = step;
	m->timestamp_ms = ts_ms;
	return 0;
}

void steplist_free(steplist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free((char *)l->items[i].key);
	free(l->items);
	memset(l, 0, sizeof *l);
}

/* The next line of buf as [*line, *line + *llen) without its '\n'. */
static int next_line(const char *buf, size_t len, size_t *pos, const char **line, size_t *llen)
{
	if (*pos >= len)
		return 0;
	const char *start = buf + *pos, *nl = memchr(start, '\n', len - *pos);
	*line = start;
	*llen = nl ? (size_t)(nl - start) : len - *pos;
	*pos += *llen + (nl ? 1 : 0);
	return 1;
}

/* Splits a line into exactly n tab-separated fields copied into NUL-ended
 * strings (caller frees each); -1 when the count differs or a byte is bad,
 * -2 when a copy cannot be allocated. */
static int fields(const char *line, size_t llen, size_t n, char **out)
{
	size_t k = 0;
	const char *s = line, *end = line + llen;
	if (memchr(line, '\0', llen) || memchr(line, '\r', llen))
		return -1;
	for (;;) {
		const char *t = memchr(s, '\t', (size_t)(end - s));
		const char *e = t ? t : end;
		if (k == n) {
			for (size_t i = 0; i < k; i++)
				free(out[i]);
			return -1;
		}
		out[k] = strndup(s, (size_t)(e - s));
		if (!out[k]) {
			for (size_t i = 0; i < k; i++)
				free(out[i]);
			return -2;
		}
		k++;
		if (!t)
			break;
		s = t + 1;
	}
	if (k != n) {
		for (size_t i = 0; i < k; i++)
			free(out[i]);
		return -1;
	}
	return 0;
}

int params_parse(const char *buf, size_t len, const char *name, kvlist *out, lf_error *err)
{
	memset(out, 0, sizeof *out);
	size_t pos = 0, lineno = 0, llen;
	const char *line;
	char where[300];
	while (next_line(buf, len, &pos, &line, &llen)) {
		lineno++;
		snprintf(where, sizeof where, "%s:%zu", name, lineno);
		char *f[2];
		int got = fields(line, llen, 2, f);
		if (got != 0) {
			kvlist_free(out);
			if (got == -2)
				return lf_fail(err, EX_OSERR, "%s: out of memory", where);
			return lf_fail(err, EX_DATAERR,
				       "%s: expected 2 tab-separated fields (name, value)", where);
		}
		int rc = kvlist_put(out, f[0], f[1], MLFLOW_PARAM_VALUE_MAX, 0, where, err);
		free(f[0]);
		free(f[1]);
		if (rc != 0) {
			kvlist_free(out);
			return -1;
		}
	}
	return 0;
}

int losses_parse(const char *buf, size_t len, const char *name, int64_t timestamp_ms, steplist *out,
		 lf_error *err)
{
	memset(out, 0, sizeof *out);
	size_t pos = 0, lineno = 0, llen;
	const char *line;
	while (next_line(buf, len, &pos, &line, &llen)) {
		lineno++;
		char *f[3], key[MLFLOW_KEY_MAX + 1];
		int64_t step = 0;
		double value = 0;
		int got = fields(line, llen, 3, f);
		if (got != 0) {
			steplist_free(out);
			if (got == -2)
				return lf_fail(err, EX_OSERR, "%s:%zu: out of memory", name, lineno);
			return lf_fail(
				err, EX_DATAERR,
				"%s:%zu: expected 3 tab-separated fields (step, name, value)", name,
				lineno);
		}
		const char *bad = NULL, *shown = "";
		if (parse_i64(f[0], 0, INT64_MAX, &step) != 0) {
			bad = "step is not an integer >= 0";
			shown = f[0];
		} else if (metric_key(f[1], key, sizeof key) != 0 || !mlflow_key_valid(key)) {
			bad = "name is not a valid metric name";
			shown = f[1];
		} else if (parse_double(f[2], -HUGE_VAL, HUGE_VAL, &value) != 0) {
			bad = "value is not a finite number";
			shown = f[2];
		} else if (out->n >= LOSSES_MAX) {
			bad = "more than 1000000 losses";
		}
		int oom = !bad && steplist_push(out, key, value, step, timestamp_ms) != 0;
		if (bad || oom) {
			if (oom)
				lf_fail(err, EX_OSERR, "%s:%zu: out of memory", name, lineno);
			else
				lf_fail(err, EX_DATAERR, "%s:%zu: %s ('%.*s')", name, lineno, bad,
					SHOW, shown);
			free(f[0]);
			free(f[1]);
			free(f[2]);
			steplist_free(out);
			return -1;
		}
		free(f[0]);
		free(f[1]);
		free(f[2]);
	}
	return 0;
}

static int open_regular(const char *path, int *fd, off_t *size, lf_error *err)
{
	struct stat st;
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return lf_fail_errno(err, errno == ENOENT ? EX_NOINPUT : EX_IOERR, errno, "%s",
				     path);
	if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(*fd);
		return lf_fail(err, EX_DATAERR, "%s: not a regular file", path);
	}
	*size = st.st_size;
	return 0;
}

int file_check(const char *path, lf_error *err)
{
	int fd;
	off_t size = 0;
	if (open_regular(path, &fd, &size, err) != 0)
		return -1;
	close(fd);
	return 0;
}

int file_read(const char *path, size_t max, unsigned char **buf, size_t *len, lf_error *err)
{
	int fd;
	off_t size = 0;
	*buf = NULL;
	*len = 0;
	if (open_regular(path, &fd, &size, err) != 0)
		return -1;
	if ((uint64_t)size > max) {
		close(fd);
		return lf_fail(err, EX_DATAERR, "%s: larger than %zu bytes", path, max);
	}
	FILE *f = fdopen(fd, "rb");
	if (!f) {
		close(fd);
		return lf_fail_errno(err, EX_IOERR, errno, "%s", path);
	}
	int rc = read_all(f, path, max, buf, len, err);
	fclose(f);
	return rc;
}

int metric_key(const char *name, char *out, size_t size)
{
	size_t o = 0;
	for (const char *p = name; *p; p++) {
		const char *piece = *p == '@' ? "_at_" : NULL;
		size_t n = piece ? 4 : 1;
		if (o + n >= size)
			return -1;
		memcpy(out + o, piece ? piece : p, n);
		o += n;
	}
	out[o] = '\0';
	return 0;
}

int metric_lower_is_better(const char *metric)
{
	return strncmp(metric, "rmse", 4) == 0 || strncmp(metric, "mae", 3) == 0 ||
	       strstr(metric, "loss") != NULL;
}
