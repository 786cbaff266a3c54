/*
 * pg_hosts.c — see pg_hosts.h.
 */
#include "pg_hosts.h"
#include "pg.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where the next connection starts, over all URLs of the process. */
static atomic_uint next_start;

/* The value of keyword in opts, or NULL when unset or empty. */
static const char *opt(const PQconninfoOption *opts, const char *keyword)
{
	for (const PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, keyword) == 0)
			return o->val && *o->val ? o->val : NULL;
	return NULL;
}

/* Splits s at commas into parts (s is modified); the number of parts, or -1 past max. */
static int split(char *s, char **parts, int max)
{
	int n = 0;
	for (char *p = s;; p++) {
		if (n == max)
			return -1;
		parts[n++] = p;
		p = strchr(p, ',');
		if (!p)
			return n;
		*p = '\0';
	}
}

/* The first line of libpq's message, into err. */
static void first_line(lf_error *err, int code, const char *what, const char *msg)
{
	size_t n = strcspn(msg, "\n");
	lf_fail(err, code, "%s: %.*s", what, (int)n, msg);
}

/* The parsed URL: hosts, hostaddrs and ports split, copies owned here. */
struct hosts {
	PQconninfoOption *opts;
	char *host_buf, *addr_buf, *port_buf;
	char *host[PG_HOSTS_MAX], *addr[PG_HOSTS_MAX], *port[PG_HOSTS_MAX];
	int n, n_addr, n_port;
	const char *tsa;
};

static void hosts_free(struct hosts *h)
{
	if (h->opts)
		PQconninfoFree(h->opts);
	free(h->host_buf);
	free(h->addr_buf);
	free(h->port_buf);
	memset(h, 0, sizeof *h);
}

static int hosts_parse(const char *url, struct hosts *h, lf_error *err)
{
	memset(h, 0, sizeof *h);
	char *perr = NULL;
	h->opts = PQconninfoParse(url, &perr);
	if (!h->opts) {
		if (perr)
			first_line(err, EX_USAGE, "bad database URL", perr);
		else
			lf_fail(err, EX_OSERR, "out of memory");
		PQfreemem(perr);
		return -1;
	}
	const char *host = opt(h->opts, "host"), *addr = opt(h->opts, "hostaddr"),
		   *port = opt(h->opts, "port");
	h->tsa = opt(h->opts, "target_session_attrs");
	h->n = 1;
	if ((host && !(h->host_buf = strdup(host))) || (addr && !(h->addr_buf = strdup(addr))) ||
	    (port && !(h->port_buf = strdup(port)))) {
		hosts_free(h);
		lf_fail(err, EX_OSERR, "out of memory");
		return -1;
	}
	if (h->host_buf && (h->n = split(h->host_buf, h->host, PG_HOSTS_MAX)) < 0)
		goto too_many;
	if (h->addr_buf && (h->n_addr = split(h->addr_buf, h->addr, PG_HOSTS_MAX)) < 0)
		goto too_many;
	if (h->port_buf && (h->n_port = split(h->port_buf, h->port, PG_HOSTS_MAX)) < 0)
		goto too_many;
	if (!h->host_buf && h->n_addr > 1)
		h->n = h->n_addr;
	if ((h->n_addr > 1 && h->n_addr != h->n) || (h->n_port > 1 && h->n_port != h->n)) {
		int n = h->n, n_port = h->n_port, n_addr = h->n_addr;
		hosts_free(h);
		lf_fail(err, EX_USAGE, "bad database URL: %d hosts but %d ports and %d addresses", n,
			n_port, n_addr);
		return -1;
	}
	return 0;
too_many:
	hosts_free(h);
	lf_fail(err, EX_USAGE, "bad database URL: more than %d hosts", PG_HOSTS_MAX);
	return -1;
}

int pg_hosts_count(const char *url, lf_error *err)
{
	struct hosts h;
	if (hosts_parse(url, &h, err) < 0)
		return -1;
	int n = h.n;
	hosts_free(&h);
	return n;
}

/* One attempt: url's settings, then host i's (and a target_session_attrs), then keys/vals. */
static PGconn *connect_one(const char *url, const struct hosts *h, int i, const char *tsa,
			   const char *const *keys, const char *const *vals)
{
	const char *k[24], *v[24];
	int n = 0;
	k[n] = "dbname", v[n++] = url;
	if (h->n > 1 || tsa) {
		if (h->host_buf)
			k[n] = "host", v[n++] = h->host[i];
		if (h->addr_buf)
			k[n] = "hostaddr", v[n++] = h->addr[h->n_addr > 1 ? i : 0];
		if (h->port_buf)
			k[n] = "port", v[n++] = h->port[h->n_port > 1 ? i : 0];
		if (tsa)
			k[n] = "target_session_attrs", v[n++] = tsa;
	}
	for (int j = 0; keys && keys[j] && n < 23; j++)
		k[n] = keys[j], v[n++] = vals[j];
	k[n] = v[n] = NULL;
	return PQconnectdbParams(k, v, 1);
}

PGconn *pg_hosts_connect(const char *url, const char *const *keys, const char *const *vals,
			 lf_error *err)
{
	struct hosts h;
	if (hosts_parse(url, &h, err) < 0)
		return NULL;
	/* Rounds of target_session_attrs: prefer-standby is a round for a
	 * standby, then one for any server. One host: libpq does it all. */
	const char *rounds[2] = {NULL, NULL};
	int n_rounds = 1;
	if (h.n > 1 && h.tsa && strcmp(h.tsa, "prefer-standby") == 0) {
		rounds[0] = "standby";
		rounds[1] = "any";
		n_rounds = 2;
	} else if (h.n > 1) {
		rounds[0] = h.tsa ? h.tsa : "any";
	}
	unsigned start = atomic_fetch_add(&next_start, 1u) % (unsigned)h.n;
	char last[256] = "no host to try";
	for (int r = 0; r < n_rounds; r++) {
		for (int j = 0; j < h.n; j++) {
			int i = (int)((start + (unsigned)j) % (unsigned)h.n);
			PGconn *c = connect_one(url, &h, i, rounds[r], keys, vals);
			if (!c) {
				hosts_free(&h);
				lf_fail(err, EX_OSERR, "out of memory");
				return NULL;
			}
			if (PQstatus(c) == CONNECTION_OK) {
				hosts_free(&h);
				return c;
			}
			snprintf(last, sizeof last, "%s", PQerrorMessage(c));
			PQfinish(c);
		}
	}
	first_line(err, EX_UNAVAILABLE, h.n > 1 ? "no database host answered" : "database unreachable",
		   last);
	hosts_free(&h);
	return NULL;
}

int pg_connect_spread(const char *url, const char *app, int timeout_s, PGconn **out,
		      lf_error *err)
{
	*out = NULL;
	int n = pg_hosts_count(url, err);
	if (n < 0)
		return -1;
	if (n == 1)
		return pg_connect(url, app, timeout_s, out, err);
	char tmo[16];
	snprintf(tmo, sizeof tmo, "%d", timeout_s > 0 ? timeout_s : 10);
	const char *keys[] = {"connect_timeout", "application_name", "client_encoding", NULL};
	const char *vals[] = {tmo, app, "UTF8", NULL};
	PGconn *c = pg_hosts_connect(url, keys, vals, err);
	if (!c)
		return -1;
	return pg_session(c, out, err);
}
