/*
 * zipread.c — one member of a zip archive held in memory, through libzip.
 * The archive is opened with ZIP_CHECKCONS (central directory checked
 * against the local headers) and the member is read to its end, which is
 * where libzip compares the CRC: a truncated or altered archive fails here
 * rather than yielding partial data. A member is found at the archive's top
 * or in one folder (GroupLens' archives hold ml-1m/, ml-10M100K/, ml-25m/ …).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "fetch.h"
#include "util.h"

static int fail_zip(lf_error *err, const char *zipname, const char *what, zip_error_t *ze)
{
	return lf_fail(err, EX_DATAERR, "%s: %s: %s", zipname, what, zip_error_strerror(ze));
}

static int read_member(zip_t *za, zip_int64_t idx, const char *zipname, const char *name,
		       unsigned char **buf, size_t *len, lf_error *err)
{
	zip_stat_t st;
	zip_stat_init(&st);
	if (zip_stat_index(za, (zip_uint64_t)idx, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
		return fail_zip(err, zipname, name, zip_get_error(za));
	if (st.size > FETCH_MAX_BYTES)
		return lf_fail(err, EX_DATAERR, "%s: %s: %llu bytes is more than %zu", zipname,
			       name, (unsigned long long)st.size, FETCH_MAX_BYTES);
	zip_file_t *zf = zip_fopen_index(za, (zip_uint64_t)idx, 0);
	if (!zf)
		return fail_zip(err, zipname, name, zip_get_error(za));
	size_t size = (size_t)st.size;
	unsigned char *b = malloc(size + 1);
	if (!b) {
		zip_fclose(zf);
		return lf_fail(err, EX_OSERR, "%s: %s: out of memory", zipname, name);
	}
	size_t got = 0;
	for (;;) {
		/* one spare byte requested at the end: a member longer than its
		 * declared size shows up as got > size */
		zip_int64_t n = zip_fread(zf, b + got, size + 1 - got);
		if (n < 0) {
			lf_fail(err, EX_DATAERR, "%s: %s: %s", zipname, name,
				zip_file_strerror(zf));
			goto fail;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > size) {
			lf_fail(err, EX_DATAERR, "%s: %s: longer than its declared %zu bytes",
				zipname, name, size);
			goto fail;
		}
	}
	if (got != size) {
		lf_fail(err, EX_DATAERR, "%s: %s: %zu of %zu bytes: truncated", zipname, name, got,
			size);
		goto fail;
	}
	int rc = zip_fclose(zf);
	if (rc != 0) {
		zip_error_t ze;
		zip_error_init_with_code(&ze, rc);
		fail_zip(err, zipname, name, &ze);
		zip_error_fini(&ze);
		free(b);
		return -1;
	}
	b[size] = '\0';
	*buf = b;
	*len = size;
	return 0;
fail:
	zip_fclose(zf);
	free(b);
	return -1;
}

zip_t *zip_open_buffer(const unsigned char *zip, size_t zlen, const char *zipname, lf_error *err)
{
	zip_error_t ze;
	zip_error_init(&ze);
	zip_source_t *src = zip_source_buffer_create(zip, zlen, 0, &ze);
	if (!src) {
		fail_zip(err, zipname, "cannot read the archive", &ze);
		zip_error_fini(&ze);
		return NULL;
	}
	zip_t *za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
	if (!za) {
		zip_source_free(src);
		fail_zip(err, zipname, "not a valid zip archive", &ze);
	}
	zip_error_fini(&ze);
	return za;
}

long zip_find(zip_t *za, const char *member)
{
	zip_int64_t n = zip_get_num_entries(za, 0);
	size_t ml = strlen(member);
	for (zip_int64_t i = 0; i < n; i++) {
		const char *name = zip_get_name(za, (zip_uint64_t)i, 0);
		if (!name)
			continue;
		const char *slash = strchr(name, '/');
		const char *base = slash ? slash + 1 : name;
		if (strchr(base, '/') || strlen(base) != ml || memcmp(base, member, ml) != 0)
			continue;
		if (slash && strncmp(name, "__MACOSX/", 9) == 0)
			continue; /* Finder's resource forks, not data */
		return (long)i;
	}
	return -1;
}

zip_t *zip_open_path(const char *path, lf_error *err)
{
	int code = 0;
	zip_t *za = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &code);
	if (!za) {
		zip_error_t ze;
		zip_error_init_with_code(&ze, code);
		fail_zip(err, path, "not a valid zip archive", &ze);
		zip_error_fini(&ze);
	}
	return za;
}

int zip_member(zip_t *za, const char *zipname, const char *member, unsigned char **buf,
	       size_t *len, char **found, lf_error *err)
{
	long idx = zip_find(za, member);
	int rc;
	if (idx < 0) {
		rc = lf_fail(err, EX_NOINPUT, "%s: no member %s (at its top or in one folder)",
			     zipname, member);
	} else {
		const char *name = zip_get_name(za, (zip_uint64_t)idx, 0);
		rc = read_member(za, idx, zipname, name, buf, len, err);
		if (rc == 0) {
			*found = strdup(name);
			if (!*found) {
				free(*buf);
				rc = lf_fail(err, EX_OSERR, "out of memory");
			}
		}
	}
	return rc;
}
