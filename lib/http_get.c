/*
 * http_get.c — see http.h, "One-shot GETs": a whole URL (http, https or
 * file) through libcurl into memory, for ml-fetch's archives. Beside the
 * JSON client of http.c so that the project has one HTTP client module.
 * The write callback refuses to grow past the caller's bound, so a wrong
 * URL cannot fill the memory; a stall (under 1 byte/s for 60 s) ends the transfer instead of a fixed
 * total timeout, so a slow but live link still completes.
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "http_internal.h"
#include "util.h"

size_t http_sink_write(char *ptr, size_t size, size_t nmemb, void *sink)
{
	http_sink *b = sink;
	size_t n = size * nmemb; /* curl guarantees size == 1 */
	if (n > b->max - b->len) {
		b->too_big = 1;
		return 0;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		unsigned char *p = realloc(b->data, cap);
		if (!p) {
			b->no_memory = 1;
			return 0;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

int http_get_url(const char *url, size_t max, unsigned char **buf, size_t *len, lf_error *err)
{
	char shown[1024]; /* the URL in messages, any password masked */
	url_redact(url, shown, sizeof shown);
	http_sink s = {.max = max};
	char ebuf[CURL_ERROR_SIZE] = "";
	CURL *c = curl_easy_init();
	if (!c)
		return lf_fail(err, EX_SOFTWARE, "%s: cannot start libcurl", shown);
	CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(c, opt, val);                                        \
	} while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_ERRORBUFFER, ebuf);
	SET(CURLOPT_PROTOCOLS_STR, "http,https,file");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 1L);
	SET(CURLOPT_MAXREDIRS, 5L);
	SET(CURLOPT_FAILONERROR, 1L);
	SET(CURLOPT_CONNECTTIMEOUT, 30L);
	SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SET(CURLOPT_LOW_SPEED_TIME, 60L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_USERAGENT, "lensflow/" LENSFLOW_VERSION);
	SET(CURLOPT_WRITEFUNCTION, http_sink_write);
	SET(CURLOPT_WRITEDATA, &s);
#undef SET
	if (rc != CURLE_OK) {
		curl_easy_cleanup(c);
		return lf_fail(err, EX_SOFTWARE, "%s: libcurl setup: %s", shown,
			       curl_easy_strerror(rc));
	}
	rc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		free(s.data);
		if (s.too_big)
			return lf_fail(err, EX_DATAERR, "%s: larger than %zu bytes", shown, max);
		if (s.no_memory)
			return lf_fail(err, EX_OSERR, "%s: out of memory", shown);
		if (rc == CURLE_FILE_COULDNT_READ_FILE)
			return lf_fail(err, EX_NOINPUT, "%s: %s", shown,
				       ebuf[0] ? ebuf : curl_easy_strerror(rc));
		if (rc == CURLE_HTTP_RETURNED_ERROR)
			return lf_fail(err, EX_UNAVAILABLE, "%s: HTTP %ld (%s)", shown, status,
				       curl_easy_strerror(rc));
		return lf_fail(err, EX_UNAVAILABLE, "%s: %s%s%s", shown, curl_easy_strerror(rc),
			       ebuf[0] ? ": " : "", ebuf);
	}
	if (!s.data) { /* an empty body */
		s.data = malloc(1);
		if (!s.data)
			return lf_fail(err, EX_OSERR, "%s: out of memory", shown);
	}
	s.data[s.len] = '\0';
	*buf = s.data;
	*len = s.len;
	return 0;
}

char *http_file_url_path(const char *url, lf_error *err)
{
	CURLU *u = curl_url();
	char *host = NULL, *path = NULL, *out = NULL;
	if (!u) {
		lf_fail(err, EX_OSERR, "out of memory");
		return NULL;
	}
	CURLUcode rc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (rc == CURLUE_OK)
		rc = curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE);
	if (rc != CURLUE_OK) {
		lf_fail(err, EX_USAGE, "%s: not a valid URL: %s", url, curl_url_strerror(rc));
		goto done;
	}
	/* file://HOST/path with a host other than localhost is not local */
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host[0] &&
	    strcmp(host, "localhost") != 0) {
		lf_fail(err, EX_USAGE, "%s: file URLs must name a local path", url);
		goto done;
	}
	out = strdup(path);
	if (!out)
		lf_fail(err, EX_OSERR, "out of memory");
done:
	curl_free(host);
	curl_free(path);
	curl_url_cleanup(u);
	return out;
}
