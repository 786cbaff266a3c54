/*
 * lfe.c — see lfe.h. The parser walks the buffer with a cursor and checks
 * every declared size against the bytes that remain BEFORE allocating, so a
 * corrupt or hostile header cannot make it allocate more than the file's own
 * length. Integers and floats are decoded byte by byte (little-endian), so the
 * code does not depend on the host's byte order or on alignment.
 *
 * The tables array is allocated once at LFE_MAX_TABLES entries, so pointers
 * from lfe_add_table and lfe_find stay valid until lfe_free.
 */
#include "lfe.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util.h"

#define LFE_MAX_BYTES ((size_t)1 << 34)

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* zlib's crc32 takes a uInt length: feed large buffers in pieces. */
static uint32_t crc_of(const unsigned char *p, size_t len)
{
	uLong c = crc32(0L, Z_NULL, 0);
	while (len) {
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
		c = crc32(c, p, n);
		p += n;
		len -= n;
	}
	return (uint32_t)c;
}

/* A name is 1..16 printable ASCII bytes (no space), NUL-padded to 16. */
static int name_ok(const char *raw, size_t n)
{
	size_t len = 0;
	while (len < n && raw[len] != '\0')
		len++;
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)raw[i] <= 0x20 || (unsigned char)raw[i] >= 0x7f)
			return 0;
	for (size_t i = len; i < n; i++)
		if (raw[i] != '\0')
			return 0;
	return 1;
}

static int cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

/* Unique ids and finite values; names the problem for file `name`. */
static int check_table(const lfe_table *t, const char *name, lf_error *err)
{
	size_t cells = (size_t)t->rows * t->dim;
	for (size_t i = 0; i < cells; i++)
		if (!isfinite(t->values[i]))
			return lf_fail(
				err, EX_DATAERR,
				"%s: table '%s': value of id %d, component %zu is not finite", name,
				t->name, t->ids[i / t->dim], i % t->dim);
	if (t->rows < 2)
		return 0;
	int32_t *s = lf_calloc(t->rows, sizeof *s);
	if (!s)
		return lf_fail(err, EX_OSERR, "%s: out of memory", name);
	memcpy(s, t->ids, (size_t)t->rows * sizeof *s);
	qsort(s, t->rows, sizeof *s, cmp_i32);
	for (uint32_t i = 1; i < t->rows; i++)
		if (s[i] == s[i - 1]) {
			int32_t id = s[i];
			free(s);
			return lf_fail(err, EX_DATAERR, "%s: table '%s': id %d repeated", name,
				       t->name, id);
		}
	free(s);
	return 0;
}

void lfe_free(lfe *m)
{
	if (m->tables)
		for (uint32_t i = 0; i < m->n_tables; i++) {
			free(m->tables[i].ids);
			free(m->tables[i].values);
		}
	free(m->tables);
	m->tables = NULL;
	m->n_tables = 0;
}

const lfe_table *lfe_find(const lfe *m, const char *name)
{
	for (uint32_t i = 0; i < m->n_tables; i++)
		if (strcmp(m->tables[i].name, name) == 0)
			return &m->tables[i];
	return NULL;
}

long lfe_row_of(const lfe_table *t, int32_t id)
{
	for (uint32_t i = 0; i < t->rows; i++)
		if (t->ids[i] == id)
			return (long)i;
	return -1;
}

int lfe_add_table(lfe *m, const char *name, uint32_t rows, uint32_t dim, lfe_table **out,
		  lf_error *err)
{
	size_t len = strlen(name);
	if (len > LFE_NAME_LEN || !name_ok(name, len))
		return lf_fail(err, EX_SOFTWARE, "lfe: bad table name '%.40s'", name);
	if (dim == 0 || dim > LFE_MAX_DIM)
		return lf_fail(err, EX_SOFTWARE, "lfe: table '%s': dim %u outside 1..%d", name, dim,
			       LFE_MAX_DIM);
	if (rows > INT32_MAX)
		return lf_fail(err, EX_SOFTWARE, "lfe: table '%s': %u rows is too many", name,
			       rows);
	if (m->n_tables >= LFE_MAX_TABLES)
		return lf_fail(err, EX_SOFTWARE, "lfe: more than %d tables", LFE_MAX_TABLES);
	if (lfe_find(m, name))
		return lf_fail(err, EX_SOFTWARE, "lfe: table '%s' added twice", name);
	if (!m->tables) {
		m->tables = lf_calloc(LFE_MAX_TABLES, sizeof *m->tables);
		if (!m->tables)
			return lf_fail(err, EX_OSERR, "lfe: out of memory");
	}
	lfe_table *t = &m->tables[m->n_tables];
	memset(t, 0, sizeof *t);
	memcpy(t->name, name, len);
	t->rows = rows;
	t->dim = dim;
	t->ids = lf_calloc(rows, sizeof *t->ids);
	t->values = lf_calloc((size_t)rows * dim, sizeof *t->values);
	if (!t->ids || !t->values) {
		free(t->ids);
		free(t->values);
		memset(t, 0, sizeof *t);
		return lf_fail(err, EX_OSERR, "lfe: table '%s': out of memory", name);
	}
	m->n_tables++;
	if (out)
		*out = t;
	return 0;
}

int lfe_parse(const unsigned char *buf, size_t len, const char *name, lfe *out, lf_error *err)
{
	memset(out, 0, sizeof *out);
	if (len < 8 || memcmp(buf, LFE_MAGIC, 8) != 0)
		return lf_fail(err, EX_DATAERR, "%s: not an embedding file (magic is not %s)", name,
			       LFE_MAGIC);
	if (len < 8 + 4 + 4)
		return lf_fail(err, EX_DATAERR, "%s: truncated: %zu bytes, no room for the header",
			       name, len);
	size_t body = len - 4; /* the CRC trailer is not part of the tables */
	size_t pos = 8;
	uint32_t n_tables = get_u32(buf + pos);
	pos += 4;
	if (n_tables > LFE_MAX_TABLES)
		return lf_fail(err, EX_DATAERR, "%s: %u tables declared, at most %d allowed", name,
			       n_tables, LFE_MAX_TABLES);
	out->tables = lf_calloc(LFE_MAX_TABLES, sizeof *out->tables);
	if (!out->tables)
		return lf_fail(err, EX_OSERR, "%s: out of memory", name);
	for (uint32_t k = 0; k < n_tables; k++) {
		if (body - pos < LFE_NAME_LEN + 8) {
			lf_fail(err, EX_DATAERR, "%s: truncated in the header of table %u", name,
				k + 1);
			goto fail;
		}
		const char *raw = (const char *)buf + pos;
		if (!name_ok(raw, LFE_NAME_LEN)) {
			lf_fail(err, EX_DATAERR,
				"%s: table %u: name is not printable ASCII padded with NUL bytes",
				name, k + 1);
			goto fail;
		}
		lfe_table *t = &out->tables[k];
		memcpy(t->name, raw, LFE_NAME_LEN);
		t->name[LFE_NAME_LEN] = '\0';
		if (lfe_find(out, t->name)) { /* searches tables 0..k-1 */
			lf_fail(err, EX_DATAERR, "%s: table '%s' appears twice", name, t->name);
			goto fail;
		}
		uint32_t rows = get_u32(buf + pos + LFE_NAME_LEN);
		uint32_t dim = get_u32(buf + pos + LFE_NAME_LEN + 4);
		pos += LFE_NAME_LEN + 8;
		if (dim == 0 || dim > LFE_MAX_DIM || rows > INT32_MAX) {
			lf_fail(err, EX_DATAERR,
				"%s: table '%s': %u rows of dim %u (dim must be 1..%d)", name,
				t->name, rows, dim, LFE_MAX_DIM);
			goto fail;
		}
		/* 64-bit arithmetic: rows < 2^31, dim <= 4096, so no overflow here */
		uint64_t need = (uint64_t)rows * 4 + (uint64_t)rows * dim * 4;
		if (need > body - pos) {
			lf_fail(err, EX_DATAERR,
				"%s: table '%s' declares %u rows of dim %u (%llu bytes) but only "
				"%zu "
				"bytes remain: truncated or corrupt",
				name, t->name, rows, dim, (unsigned long long)need, body - pos);
			goto fail;
		}
		out->n_tables = k + 1; /* from here lfe_free releases this table too */
		t->rows = rows;
		t->dim = dim;
		t->ids = lf_calloc(rows, sizeof *t->ids);
		t->values = lf_calloc((size_t)rows * dim, sizeof *t->values);
		if (!t->ids || !t->values) {
			lf_fail(err, EX_OSERR, "%s: out of memory", name);
			goto fail;
		}
		for (uint32_t i = 0; i < rows; i++, pos += 4)
			t->ids[i] = (int32_t)get_u32(buf + pos);
		size_t cells = (size_t)rows * dim;
		for (size_t i = 0; i < cells; i++, pos += 4) {
			uint32_t bits = get_u32(buf + pos);
			memcpy(&t->values[i], &bits, 4);
		}
	}
	if (pos != body) {
		lf_fail(err, EX_DATAERR, "%s: %zu unexpected bytes after the last table", name,
			body - pos);
		goto fail;
	}
	uint32_t want = get_u32(buf + body), got = crc_of(buf, body);
	if (want != got) {
		lf_fail(err, EX_DATAERR,
			"%s: CRC mismatch (stored %08x, computed %08x): corrupt file", name, want,
			got);
		goto fail;
	}
	for (uint32_t k = 0; k < out->n_tables; k++)
		if (check_table(&out->tables[k], name, err))
			goto fail;
	return 0;
fail:
	lfe_free(out);
	return -1;
}

int lfe_read(FILE *f, const char *name, lfe *out, lf_error *err)
{
	unsigned char *buf;
	size_t len;
	memset(out, 0, sizeof *out);
	if (read_all(f, name, LFE_MAX_BYTES, &buf, &len, err))
		return -1;
	int rc = lfe_parse(buf, len, name, out, err);
	free(buf);
	return rc;
}

int lfe_serialize(const lfe *m, unsigned char **buf, size_t *len, lf_error *err)
{
	/* Refuse to write what a reader would reject. */
	if (m->n_tables > LFE_MAX_TABLES)
		return lf_fail(err, EX_SOFTWARE, "lfe: %u tables, at most %d", m->n_tables,
			       LFE_MAX_TABLES);
	uint64_t size = 8 + 4 + 4;
	for (uint32_t k = 0; k < m->n_tables; k++) {
		const lfe_table *t = &m->tables[k];
		if (check_table(t, "lfe", err))
			return -1;
		size += LFE_NAME_LEN + 8 + (uint64_t)t->rows * 4 + (uint64_t)t->rows * t->dim * 4;
	}
	if (size > LFE_MAX_BYTES)
		return lf_fail(err, EX_SOFTWARE, "lfe: %llu bytes is too large",
			       (unsigned long long)size);
	unsigned char *b = malloc((size_t)size);
	if (!b)
		return lf_fail(err, EX_OSERR, "lfe: out of memory");
	size_t pos = 0;
	memcpy(b, LFE_MAGIC, 8);
	pos = 8;
	put_u32(b + pos, m->n_tables);
	pos += 4;
	for (uint32_t k = 0; k < m->n_tables; k++) {
		const lfe_table *t = &m->tables[k];
		memset(b + pos, 0, LFE_NAME_LEN);
		memcpy(b + pos, t->name, strnlen(t->name, LFE_NAME_LEN));
		put_u32(b + pos + LFE_NAME_LEN, t->rows);
		put_u32(b + pos + LFE_NAME_LEN + 4, t->dim);
		pos += LFE_NAME_LEN + 8;
		for (uint32_t i = 0; i < t->rows; i++, pos += 4)
			put_u32(b + pos, (uint32_t)t->ids[i]);
		size_t cells = (size_t)t->rows * t->dim;
		for (size_t i = 0; i < cells; i++, pos += 4) {
			uint32_t bits;
			memcpy(&bits, &t->values[i], 4);
			put_u32(b + pos, bits);
		}
	}
	put_u32(b + pos, crc_of(b, pos));
	pos += 4;
	*buf = b;
	*len = pos;
	return 0;
}

int lfe_write(FILE *f, const char *name, const lfe *m, lf_error *err)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	if (lfe_serialize(m, &buf, &len, err)) {
		lf_error_prefix(err, "%s", name);
		return -1;
	}
	size_t put = fwrite(buf, 1, len, f);
	free(buf);
	if (put != len)
		return lf_fail_errno(err, EX_IOERR, errno, "%s: write failed", name);
	return 0;
}
