/*
 * http.h — a small libcurl client for JSON web APIs (MLflow's REST API):
 * JSON requests and answers through jansson, a file or buffer as a PUT body,
 * bounded time per request, and errors turned into lf_error values:
 *
 *   cannot connect, timeout, any transport error, HTTP 5xx  → EX_UNAVAILABLE
 *   HTTP 4xx                                                 → EX_DATAERR
 *   a 2xx answer that is not JSON (or not an object)         → EX_PROTOCOL
 *
 * The message names the method, the URL path and, for 4xx/5xx, the server's
 * own words: MLflow's error body {"error_code": …, "message": …} is parsed so
 * that "error_code: message" is what the user reads. The last answer's status
 * and error_code stay readable (http_last_status, http_last_error_code), so a
 * caller can tolerate an expected refusal such as RESOURCE_ALREADY_EXISTS.
 *
 * Ownership: an http_client owns its curl handle and base URL; http_free
 * releases them. A body passed in is borrowed. A reply handed out is a new
 * jansson reference the caller must json_decref. Strings from http_escape are
 * the caller's to free(). One client is used by one thread at a time.
 */
#ifndef LENSFLOW_HTTP_H
#define LENSFLOW_HTTP_H

#include <jansson.h>
#include <stddef.h>

#include "log.h"

#define HTTP_ERROR_CODE_MAX 64

typedef struct http_client http_client;

/* base_url: "http://host:port" (a trailing '/' is dropped); requests name
 * paths below it ("/api/2.0/mlflow/runs/create"). timeout_s bounds every
 * request (connection: at most 10 s of it). Only http and https. */
int http_open(http_client **out, const char *base_url, long timeout_s, lf_error *err);
void http_free(http_client *c);
const char *http_base_url(const http_client *c);

/* method: "GET", "POST", "DELETE", "PATCH". body (borrowed, may be NULL) is
 * sent as application/json. On a 2xx answer *reply (when reply is not NULL)
 * is the parsed object, or NULL for an empty body. Anything else: -1 and err
 * as described above, *reply NULL. */
int http_json(http_client *c, const char *method, const char *path, const json_t *body,
	      json_t **reply, lf_error *err);

/* PUT of raw bytes / of a whole file as application/octet-stream; the answer
 * is read (and discarded) only for its status. */
int http_put_bytes(http_client *c, const char *path, const void *data, size_t len, lf_error *err);
int http_put_file(http_client *c, const char *path, const char *file, lf_error *err);

/* GET of raw bytes into a new buffer (caller frees *data). */
int http_get_bytes(http_client *c, const char *path, unsigned char **data, size_t *len,
		   lf_error *err);

/* The last answer's HTTP status (0: no answer) and the error_code of its
 * error body ("" when none). Valid until the next request. */
long http_last_status(const http_client *c);
const char *http_last_error_code(const http_client *c);

/* Requests made by this client so far (answered or not). */
long http_request_count(const http_client *c);

/* ---- One-shot GETs (http_get.c; ml-fetch's archives) ----
 * No client needed: each call makes its own handle. The caller runs
 * curl_global_init first (a process that uses no http_client must). */

/* GETs url (http, https or file) into a new NUL-terminated buffer (caller
 * frees *buf): redirects followed, HTTP >= 400 a failure, a 30 s connect
 * timeout and a stall limit (under 1 byte/s for 60 s) instead of a total one.
 * Errors: EX_UNAVAILABLE (network, HTTP), EX_NOINPUT (a file:// that does not
 * exist), EX_DATAERR (larger than max). Messages mask any password. */
int http_get_url(const char *url, size_t max, unsigned char **buf, size_t *len, lf_error *err);
/* The local path of a file:// URL (percent-decoded, new string), or NULL
 * with err filled when the URL is not a plain local file URL. */
char *http_file_url_path(const char *url, lf_error *err);

/* Percent-encodes s for a query value or one path segment; NULL on
 * allocation failure. Caller frees. */
char *http_escape(const char *s);

/* Parses an error body {"error_code": "X", "message": "Y"} (either may be
 * missing; anything not such an object gives code "" and the raw text,
 * truncated and with control characters replaced, as message). Pure; for
 * the unit tests too. code holds HTTP_ERROR_CODE_MAX bytes, msg msg_size. */
void http_parse_error_body(const char *body, size_t len, char *code, char *msg, size_t msg_size);

#endif
