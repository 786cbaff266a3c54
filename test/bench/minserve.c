/*
 * minserve — floor (e): ml-serve's architecture with nothing of ml-serve in it.
 * civetweb with ml-serve's options (keep-alive, tcp_nodelay, 4 threads per
 * database connection), answering in begin_request as ml-serve does; each
 * worker thread holds one libpq connection with the serving statement
 * prepared and runs it blocking, with the user id as a text parameter and the
 * rows in binary. The answer is the ranked movie ids as a JSON array, written
 * with one mg_write. No snapshot, no scores or titles, no metrics, no pool.
 *
 *   minserve --sql FILE [--url URL] [--listen 127.0.0.1:8001] [--threads 8]
 *
 *   GET /r/{user}   the statement of FILE ($1 = user), 200 with [id, ...]
 *   GET /healthz    200 "ok" without the database
 *
 * What ml-serve costs above this server's CPU per request is ml-serve's own
 * work; what this server costs is the floor of civetweb's thread per
 * connection plus libpq on this machine. --url defaults to $DATABASE_URL.
 * Runs until SIGTERM or SIGINT. A bench helper, not a tool: errors are one
 * line on stderr and exit 1.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <civetweb.h>
#include <libpq-fe.h>

#include "util.h"

static const char *db_url;
static char *stmt_sql;
static _Thread_local PGconn *conn;

static void die(const char *msg)
{
	fprintf(stderr, "minserve: %s\n", msg);
	exit(1);
}

static int reply(struct mg_connection *c, int status, const char *body, size_t len)
{
	char head[160];
	int n = snprintf(head, sizeof head,
			 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
			 "Connection: keep-alive\r\n\r\n",
			 status, status == 200 ? "OK" : "Error", len);
	char out[4096];
	if ((size_t)n + len > sizeof out)
		return 500;
	memcpy(out, head, (size_t)n);
	memcpy(out + n, body, len);
	mg_write(c, out, (size_t)n + len);
	return status;
}

/* The calling thread's connection, made and prepared on first use. */
static PGconn *thread_conn(void)
{
	if (conn && PQstatus(conn) == CONNECTION_OK)
		return conn;
	PQfinish(conn);
	conn = PQconnectdb(db_url);
	if (PQstatus(conn) != CONNECTION_OK) {
		PQfinish(conn);
		conn = NULL;
		return NULL;
	}
	PGresult *r = PQprepare(conn, "q", stmt_sql, 0, NULL);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!ok) {
		PQfinish(conn);
		conn = NULL;
	}
	return conn;
}

static size_t put_u32(char *p, uint32_t v)
{
	char t[10];
	size_t n = 0;
	do
		t[n++] = (char)('0' + v % 10);
	while (v /= 10);
	for (size_t i = 0; i < n; i++)
		p[i] = t[n - 1 - i];
	return n;
}

static int begin(struct mg_connection *c)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	const char *uri = ri->local_uri_raw;
	if (strcmp(uri, "/healthz") == 0)
		return reply(c, 200, "\"ok\"", 4);
	int64_t uid;
	if (strncmp(uri, "/r/", 3) != 0 || parse_i64(uri + 3, 1, INT32_MAX, &uid) < 0)
		return reply(c, 404, "{}", 2);
	PGconn *pc = thread_conn();
	if (!pc)
		return reply(c, 503, "{}", 2);
	const char *params[1] = {uri + 3};
	PGresult *r = PQexecPrepared(pc, "q", 1, params, NULL, NULL, 1);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		return reply(c, 503, "{}", 2);
	}
	char body[2048];
	size_t n = 0;
	body[n++] = '[';
	int rows = PQntuples(r);
	for (int i = 0; i < rows && n + 16 < sizeof body; i++) {
		const unsigned char *v = (const unsigned char *)PQgetvalue(r, i, 0);
		uint32_t id = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
		if (i)
			body[n++] = ',';
		n += put_u32(body + n, id);
	}
	body[n++] = ']';
	PQclear(r);
	return reply(c, 200, body, n);
}

static void exit_thread(const struct mg_context *ctx, int type, void *ptr)
{
	(void)ctx, (void)type, (void)ptr;
	PQfinish(conn);
	conn = NULL;
}

static int quiet(const struct mg_connection *c, const char *msg)
{
	(void)c, (void)msg;
	return 1;
}

/* The --sql file, NUL-terminated (lib's read_all), under 64 KiB. */
static char *read_sql(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		die("cannot open the --sql file");
	unsigned char *buf;
	size_t len;
	lf_error err = {0};
	int rc = read_all(f, path, 65535, &buf, &len, &err);
	fclose(f);
	if (rc < 0) {
		fprintf(stderr, "minserve: %s\n", err.msg);
		exit(1);
	}
	return (char *)buf;
}

int main(int argc, char **argv)
{
	const char *listen = "127.0.0.1:8001", *sql_path = NULL;
	int64_t threads = 8;
	db_url = getenv("DATABASE_URL");
	static const struct option opts[] = {
		{"sql", required_argument, NULL, 'q'},
		{"url", required_argument, NULL, 'u'},
		{"listen", required_argument, NULL, 'l'},
		{"threads", required_argument, NULL, 't'},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'q': sql_path = optarg; break;
		case 'u': db_url = optarg; break;
		case 'l': listen = optarg; break;
		case 't':
			if (parse_i64(optarg, 1, 64, &threads) < 0)
				die("--threads: an integer from 1 to 64");
			break;
		default: die("usage: minserve --sql FILE [--url URL] [--listen ADDR] [--threads N]");
		}
	}
	if (!sql_path)
		die("--sql FILE is required");
	if (!db_url || !*db_url)
		die("no database: --url or DATABASE_URL");
	stmt_sql = read_sql(sql_path);

	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	char nthreads[16];
	snprintf(nthreads, sizeof nthreads, "%d", (int)threads * 4);
	const char *options[] = {
		"listening_ports", listen, "num_threads", nthreads, "request_timeout_ms", "10000",
		"enable_keep_alive", "yes", "keep_alive_timeout_ms", "5000", "tcp_nodelay", "1",
		"decode_url", "no", NULL,
	};
	struct mg_callbacks cb = {0};
	cb.begin_request = begin;
	cb.exit_thread = exit_thread;
	cb.log_message = quiet;
	mg_init_library(0);
	struct mg_context *ctx = mg_start(&cb, NULL, options);
	if (!ctx)
		die("cannot listen (address in use?)");
	int sig;
	while (sigwait(&stop, &sig) != 0) {
	}
	mg_stop(ctx);
	mg_exit_library();
	free(stmt_sql);
	return 0;
}
