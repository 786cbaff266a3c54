/*
 * pg_hosts.h — connecting to one of the hosts of a multi-host libpq URL
 * ("postgresql://u@h1:p1,h2:p2,h3:p3/db?target_session_attrs=prefer-standby"),
 * host by host, by lensflow itself rather than by libpq:
 *
 * - Spreading: each call starts at the next host (a process-wide round-robin
 *   counter), so that a pool's connections spread over the standbys; Debian's
 *   libpq 15 has no load_balance_hosts and always takes the first that fits.
 * - Failover: a host that refuses, times out, or accepts and then closes the
 *   connection (a dying postmaster, one still starting up) is passed over at
 *   once for the next; libpq itself gives up on the last kind.
 * - target_session_attrs is honoured per host: prefer-standby asks every host
 *   for a standby first and then takes any; standby, primary, read-only,
 *   read-write and any are asked of each host as they are.
 *
 * A URL with a single host is connected as it is (one PQconnectdbParams).
 *
 * Ownership: the PGconn returned is the caller's (PQfinish). keys/vals are
 * borrowed for the call.
 */
#ifndef LENSFLOW_PG_HOSTS_H
#define LENSFLOW_PG_HOSTS_H

#include <libpq-fe.h>

#include "log.h"

/* The most hosts a URL may name. */
#define PG_HOSTS_MAX 16

/* The number of hosts url names (1 when it names none: libpq's default),
 * or -1 with err (EX_USAGE) when url does not parse or names too many. */
int pg_hosts_count(const char *url, lf_error *err);

/* Connects to a host of url, trying each in turn from the next in the
 * round-robin; keys/vals (NULL-terminated, may be NULL) are further libpq
 * settings (connect_timeout, application_name, ...). On success returns the
 * connection (CONNECTION_OK); else NULL with err: EX_USAGE for a bad URL,
 * EX_OSERR out of memory, EX_UNAVAILABLE when no host gave a fitting
 * session (the message is the last host's error, on one line). */
PGconn *pg_hosts_connect(const char *url, const char *const *keys, const char *const *vals,
			 lf_error *err);

/* As pg.h's pg_connect (connect_timeout timeout_s, application_name app,
 * client_encoding UTF8, the client connection check), through
 * pg_hosts_connect when url names several hosts; pg_connect itself when one.
 * 0, or -1 with err as pg_hosts_connect. */
int pg_connect_spread(const char *url, const char *app, int timeout_s, PGconn **out,
		      lf_error *err);

#endif
