/*
 * http.c — see http.h. One curl easy handle per client, reset before each
 * request so that no option leaks from one request into the next while the
 * connection itself is kept alive (MLflow's uvicorn keeps it open).
 */
#include "http.h"
#include "http_internal.h"
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HTTP_REPLY_MAX ((size_t)256 << 20) /* a bigger answer is not MLflow's */

struct http_client {
	CURL *curl;
	char *base; /* no trailing '/' */
	char shown[512]; /* base with any user:password@ masked, for messages */
	long timeout_s;
	long status;   /* of the last answer; 0 when none */
	long requests; /* made so far */
	char error_code[HTTP_ERROR_CODE_MAX];
};

static int global_users; /* curl_global_init/cleanup around the first/last client */

int http_open(http_client **out, const char *base_url, long timeout_s, lf_error *err)
{
	*out = NULL;
	char shown[512];
	url_redact(base_url, shown, sizeof shown);
	if (strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0)
		return lf_fail(err, EX_USAGE, "'%s' is not an http:// or https:// URL", shown);
	if (strpbrk(base_url, " \t\r\n?#"))
		return lf_fail(err, EX_USAGE, "'%s' is not a valid base URL", shown);
	http_client *c = calloc(1, sizeof *c);
	if (!c)
		return lf_fail(err, EX_OSERR, "out of memory");
	c->base = strdup(base_url);
	if (!c->base) {
		free(c);
		return lf_fail(err, EX_OSERR, "out of memory");
	}
	size_t n = strlen(c->base);
	while (n > 0 && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	url_redact(c->base, c->shown, sizeof c->shown);
	if (global_users++ == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		global_users--;
		free(c->base);
		free(c);
		return lf_fail(err, EX_SOFTWARE, "libcurl cannot start");
	}
	c->curl = curl_easy_init();
	if (!c->curl) {
		http_free(c);
		return lf_fail(err, EX_SOFTWARE, "libcurl cannot make a handle");
	}
	c->timeout_s = timeout_s > 0 ? timeout_s : 60;
	*out = c;
	return 0;
}

void http_free(http_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	free(c->base);
	free(c);
	if (--global_users == 0)
		curl_global_cleanup();
}

const char *http_base_url(const http_client *c) { return c->base; }
long http_last_status(const http_client *c) { return c->status; }
const char *http_last_error_code(const http_client *c) { return c->error_code; }
long http_request_count(const http_client *c) { return c->requests; }

char *http_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	if (n > (SIZE_MAX - 1) / 3)
		return NULL;
	char *out = malloc(3 * n + 1), *o = out;
	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

/* Copies at most size-1 bytes of src[0..len) to dst, control bytes as ' '. */
static void copy_clean(char *dst, size_t size, const char *src, size_t len)
{
	size_t i = 0;
	for (; i < len && i + 1 < size; i++) {
		unsigned char ch = (unsigned char)src[i];
		dst[i] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
	}
	dst[i] = '\0';
}

void http_parse_error_body(const char *body, size_t len, char *code, char *msg, size_t msg_size)
{
	code[0] = '\0';
	if (msg_size)
		msg[0] = '\0';
	json_t *j = body && len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	const json_t *c = json_object_get(j, "error_code"); /* NULL-safe in jansson */
	const json_t *m = json_object_get(j, "message");
	if (json_is_object(j) && (json_is_string(c) || json_is_string(m))) {
		if (json_is_string(c))
			copy_clean(code, HTTP_ERROR_CODE_MAX, json_string_value(c),
				   json_string_length(c));
		if (json_is_string(m) && msg_size)
			copy_clean(msg, msg_size, json_string_value(m), json_string_length(m));
	} else if (body && msg_size) {
		copy_clean(msg, msg_size, body, len);
	}
	json_decref(j);
}

/* Runs the prepared request; fills c->status and b. Transport errors and
 * statuses >= 400 become err. what: "POST /path" for messages. */
static int perform(http_client *c, const char *what, http_sink *b, lf_error *err)
{
	char curl_msg[CURL_ERROR_SIZE] = "";
	c->status = 0;
	c->error_code[0] = '\0';
	if (curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, curl_msg) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, http_sink_write) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, b) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, c->timeout_s) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT,
			     c->timeout_s < 10 ? c->timeout_s : 10L) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK)
		return lf_fail(err, EX_SOFTWARE, "%s: libcurl refused an option", what);
	c->requests++;
	CURLcode rc = curl_easy_perform(c->curl);
	if (rc != CURLE_OK) {
		if (b->too_big)
			return lf_fail(err, EX_PROTOCOL, "%s at %s: the answer is larger than %zu MiB",
				       what, c->shown, HTTP_REPLY_MAX >> 20);
		if (b->no_memory)
			return lf_fail(err, EX_OSERR, "%s at %s: out of memory for the answer", what,
				       c->shown);
		return lf_fail(err, EX_UNAVAILABLE, "cannot reach %s (%s): %s", c->shown, what,
			       curl_msg[0] ? curl_msg : curl_easy_strerror(rc));
	}
	if (curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->status) != CURLE_OK)
		return lf_fail(err, EX_SOFTWARE, "%s: libcurl gives no status", what);
	if (c->status >= 200 && c->status < 300)
		return 0;
	char msg[300];
	http_parse_error_body((const char *)b->data, b->len, c->error_code, msg, sizeof msg);
	int code = (c->status >= 400 && c->status < 500) ? EX_DATAERR : EX_UNAVAILABLE;
	return lf_fail(err, code, "%s at %s: HTTP %ld%s%s%s%s", what, c->shown, c->status,
		       c->error_code[0] ? " " : "", c->error_code, msg[0] ? ": " : "", msg);
}

/* Resets the handle and sets URL, method and headers common to all calls. */
static int prepare(http_client *c, const char *method, const char *path, const char *type,
		   struct curl_slist **headers, lf_error *err)
{
	size_t n = strlen(c->base) + strlen(path) + 1;
	char *url = malloc(n);
	if (!url)
		return lf_fail(err, EX_OSERR, "out of memory");
	snprintf(url, n, "%s%s", c->base, path);
	curl_easy_reset(c->curl);
	char ctype[64];
	snprintf(ctype, sizeof ctype, "Content-Type: %s", type);
	struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
	struct curl_slist *h2 = h ? curl_slist_append(h, ctype) : NULL;
	struct curl_slist *h3 = h2 ? curl_slist_append(h2, "Expect:") : NULL;
	if (!h3) {
		curl_slist_free_all(h);
		free(url);
		return lf_fail(err, EX_OSERR, "out of memory");
	}
	*headers = h3;
	CURLcode rc = curl_easy_setopt(c->curl, CURLOPT_URL, url); /* curl copies it */
	free(url);
	if (rc != CURLE_OK || curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h3) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK)
		return lf_fail(err, EX_SOFTWARE, "%s %s: libcurl refused the URL or method", method,
			       path);
	return 0;
}

int http_json(http_client *c, const char *method, const char *path, const json_t *body,
	      json_t **reply, lf_error *err)
{
	char what[256];
	snprintf(what, sizeof what, "%s %s", method, path);
	if (reply)
		*reply = NULL;
	struct curl_slist *headers = NULL;
	char *text = NULL;
	http_sink b = {.max = HTTP_REPLY_MAX};
	int rc = -1;
	if (prepare(c, method, path, "application/json", &headers, err) != 0)
		goto out;
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text) {
			lf_fail(err, EX_SOFTWARE, "%s: cannot encode the request", what);
			goto out;
		}
		if (curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, text) != CURLE_OK ||
		    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
				     (curl_off_t)strlen(text)) != CURLE_OK) {
			lf_fail(err, EX_SOFTWARE, "%s: libcurl refused the body", what);
			goto out;
		}
	} else if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
	}
	if (perform(c, what, &b, err) != 0)
		goto out;
	if (b.len > 0 && reply) {
		json_error_t jerr;
		*reply = json_loadb((const char *)b.data, b.len, JSON_REJECT_DUPLICATES, &jerr);
		if (!json_is_object(*reply)) {
			json_decref(*reply);
			*reply = NULL;
			lf_fail(err, EX_PROTOCOL, "%s at %s: the answer is not a JSON object (%s)",
				what, c->shown, jerr.text);
			goto out;
		}
	}
	rc = 0;
out:
	curl_slist_free_all(headers);
	free(text);
	free(b.data);
	return rc;
}

int http_put_bytes(http_client *c, const char *path, const void *data, size_t len, lf_error *err)
{
	char what[256];
	snprintf(what, sizeof what, "PUT %s", path);
	struct curl_slist *headers = NULL;
	http_sink b = {.max = HTTP_REPLY_MAX};
	int rc = -1;
	if (prepare(c, "PUT", path, "application/octet-stream", &headers, err) != 0)
		goto out;
	if (curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, len ? data : "") != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) != CURLE_OK) {
		lf_fail(err, EX_SOFTWARE, "%s: libcurl refused the body", what);
		goto out;
	}
	rc = perform(c, what, &b, err);
out:
	curl_slist_free_all(headers);
	free(b.data);
	return rc;
}

int http_put_file(http_client *c, const char *path, const char *file, lf_error *err)
{
	char what[256];
	snprintf(what, sizeof what, "PUT %s", path);
	struct curl_slist *headers = NULL;
	http_sink b = {.max = HTTP_REPLY_MAX};
	int rc = -1;
	struct stat st;
	FILE *f = fopen(file, "rb");
	if (!f)
		return lf_fail_errno(err, errno == ENOENT ? EX_NOINPUT : EX_IOERR, errno, "%s",
				     file);
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		lf_fail(err, EX_NOINPUT, "%s: not a regular file", file);
		goto out;
	}
	if (prepare(c, "PUT", path, "application/octet-stream", &headers, err) != 0)
		goto out;
	/* CURLOPT_UPLOAD makes it a PUT that reads the body from f. */
	if (curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, NULL) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_UPLOAD, 1L) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_READDATA, f) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size) !=
		    CURLE_OK) {
		lf_fail(err, EX_SOFTWARE, "%s: libcurl refused the body", what);
		goto out;
	}
	rc = perform(c, what, &b, err);
	if (rc == 0 && ferror(f))
		rc = lf_fail(err, EX_IOERR, "%s: read error while uploading", file);
out:
	curl_slist_free_all(headers);
	free(b.data);
	fclose(f);
	return rc;
}

int http_get_bytes(http_client *c, const char *path, unsigned char **data, size_t *len,
		   lf_error *err)
{
	char what[256];
	snprintf(what, sizeof what, "GET %s", path);
	struct curl_slist *headers = NULL;
	http_sink b = {.max = HTTP_REPLY_MAX};
	*data = NULL;
	*len = 0;
	if (prepare(c, "GET", path, "application/octet-stream", &headers, err) != 0 ||
	    perform(c, what, &b, err) != 0) {
		curl_slist_free_all(headers);
		free(b.data);
		return -1;
	}
	curl_slist_free_all(headers);
	*data = b.data ? b.data : calloc(1, 1);
	*len = b.len;
	if (!*data)
		return lf_fail(err, EX_OSERR, "out of memory");
	return 0;
}
