/*
 * static.h — the web page at / (static/index.html, app.css, app.js, icon.svg),
 * compiled into the binary so that an installed ml-serve needs no file beside
 * it, and served with its content type, an ETag (the SHA-256 of the content:
 * If-None-Match answers 304), Cache-Control: no-cache (always revalidated, so
 * a new release is seen at once) and a Content-Security-Policy that allows
 * only the page's own origin.
 *
 * Ownership: the files are read-only data of the binary; nothing to free.
 */
#ifndef ML_SERVE_STATIC_H
#define ML_SERVE_STATIC_H

#include "reply.h"

/* Answers the page's requests: GET or HEAD of / from a client that accepts
 * text/html (a browser; API clients keep the JSON list of endpoints), and
 * every request under /static/ (404 for a name it does not hold, 405 for a
 * method other than GET or HEAD). Returns the HTTP status answered, or 0
 * when the request is not the page's and dispatch must go on. */
int static_serve(struct req *rq, const char *path);

#endif
