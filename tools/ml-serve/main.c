/*
 * ml-serve — the lensflow HTTP API: recommendations from the embedding set
 * that the `serving` table points at, answered by pgvector, with Prometheus
 * metrics. main() parses options and wires the parts: civetweb answering
 * every request in its begin_request callback (routes.c), a pool of
 * --threads PostgreSQL connections shared by civetweb's 4 x --threads threads
 * (db.c), the in-memory snapshot (snapshot.c) and its poll thread (reload.c).
 */
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "impressions.h"
#include "mlflow.h"
#include "opts.h"
#include "pg.h"
#include "serve.h"
#include "util.h"

/* Seconds MLflow may take to answer the poll thread: a slow registry must not
 * delay the next look at the serving table by much. */
#define CHAMPION_TIMEOUT_S 2

/* "8000" or "HOST:PORT" → civetweb's listening_ports form; a bare port listens on 127.0.0.1. */
static int parse_listen(const char *s, char *out, size_t out_len)
{
	const char *colon = strrchr(s, ':');
	const char *port = colon ? colon + 1 : s;
	int64_t p;
	if (parse_i64(port, 1, 65535, &p) < 0)
		return -1;
	if (!colon || colon == s)
		return snprintf(out, out_len, "127.0.0.1:%lld", (long long)p) < (int)out_len ? 0 : -1;
	if (strspn(s, "0123456789.") != (size_t)(colon - s))
		return -1; /* civetweb is built without IPv6 and takes addresses, not names */
	return snprintf(out, out_len, "%s", s) < (int)out_len ? 0 : -1;
}

/* civetweb threads per database connection: the extra threads hold the
 * connections of clients that are slow to send a request or idle between
 * keep-alive requests, while the database connections serve the others. */
#define THREADS_PER_CONN 4

/* Fold-ins at a time (--foldin-concurrency) by default: half the CPUs, at
 * least 1. Each one is CPU work in its worker (18-40 ms for 500 ratings of
 * the blend), so more would only take the CPUs from the known-user and
 * catalogue requests and from Postgres. */
static int default_foldin(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN) / 2;
	return n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
}

/* The champion alias of model_name in MLflow (ctx: an mlflow client). */
static int mlflow_champion(void *ctx, const char *model_name, int *version, lf_error *err)
{
	mlflow_version v = {0};
	int rc = mlflow_alias_get(ctx, model_name, "champion", &v, err);
	int64_t n = 0;
	if (rc == 0 && parse_i64(v.version ? v.version : "", 1, INT32_MAX, &n) < 0)
		rc = lf_fail(err, EX_PROTOCOL, "MLflow's champion version '%s' is not a number",
			     v.version ? v.version : "");
	mlflow_version_free(&v);
	if (rc < 0)
		return -1;
	*version = rc == 1 ? 0 : (int)n;
	return 0;
}

static int quiet_log(const struct mg_connection *conn, const char *message)
{
	(void)conn;
	log_debug("civetweb: %s", message);
	return 1;
}

static struct serve_app app = {
	.cfg = {.threads = 16, .model_name = "lensflow", .poll_s = 10, .max_body = 65536,
		.timeout_ms = 10000, .max_feedback_body = 262144, .impressions_queue = 16384,
		.online_window_s = 86400},
	.reload_lock = PTHREAD_MUTEX_INITIALIZER,
	.poll_lock = PTHREAD_MUTEX_INITIALIZER,
};
static struct {
	const char *listen, *run_as;
	int foldin;
	double conn_lifetime;
	int conn_lifetime_given;
	char ports[128]; /* civetweb's listening_ports form of --listen */
} args;

static const opts_opt options[] = {
	OPTS_STRING('l', "listen", &args.listen, "HOST:PORT",
		    "where to listen (default $LENSFLOW_LISTEN, else 127.0.0.1:8000)"),
	OPTS_INT('t', "threads", &app.cfg.threads, 1, 256, "N",
		 "database connections, each serving one request at a\n"
		 "time (default 16); civetweb runs 4 x N threads, one per\n"
		 "connected client"),
	OPTS_STRING('d', "db", &app.cfg.db_url, "URL",
		    "libpq URL (default $DATABASE_URL); with several hosts\n"
		    "(h1:p1,h2:p2,...) connections spread over them and\n"
		    "move to the next at once when one dies;\n"
		    "target_session_attrs=prefer-standby reads from standbys"),
	{.type = OPTS_T_DOUBLE, .long_name = "conn-lifetime", .value = &args.conn_lifetime,
	 .dmin = 0, .dmax = 86400, .argh = "SECONDS", .seen = &args.conn_lifetime_given,
	 .help = "make each database connection anew after about\n"
		 "this long (80-100 %), so that they spread again after\n"
		 "a failover or a new standby (default 300; 0: never)"},
	OPTS_STRING('m', "model-name", &app.cfg.model_name, "NAME",
		    "model whose served set to answer with (default lensflow)"),
	OPTS_DOUBLE('p', "poll", &app.cfg.poll_s, 0.05, 86400, "SECONDS",
		    "how often to look at the serving table (default 10)"),
	OPTS_SIZE(0, "max-body", &app.cfg.max_body, 64, 64 << 20, "BYTES",
		  "largest request body (default 65536)"),
	OPTS_INT(0, "timeout", &app.cfg.timeout_ms, 100, 3600000, "MS",
		 "request timeout (default 10000)"),
	OPTS_STRING(0, "access-log", &app.cfg.access_log, "FILE",
		    "write an access log (default: none)"),
	OPTS_INT(0, "foldin-concurrency", &args.foldin, 0, 1024, "N",
		 "most new-user fold-ins (POST /recommendations)\n"
		 "at a time; more are answered 503 with Retry-After at\n"
		 "once (default: half the CPUs, at least 1; 0: no bound)"),
	OPTS_STRING(0, "tracking-uri", &app.cfg.tracking_uri, "URI",
		    "MLflow, read every poll for the champion's version\n"
		    "(default $MLFLOW_TRACKING_URI; unset: not read)"),
	OPTS_STRING(0, "feedback-db", &app.cfg.feedback_db_url, "URL",
		    "where POST /feedback and the impressions are written\n"
		    "(default: --db), e.g. the primary when --db is a standby"),
	OPTS_SIZE(0, "max-feedback-body", &app.cfg.max_feedback_body, 64, 64 << 20, "BYTES",
		  "largest POST /feedback body (default 262144)"),
	OPTS_DOUBLE(0, "online-window", &app.cfg.online_window_s, 1, 365 * 86400.0, "SECONDS",
		    "the online gauges' window: answers served that long\n"
		    "ago at most, hits rated that long after (default 86400)"),
	OPTS_SIZE(0, "impressions-queue", &app.cfg.impressions_queue, 0, 1 << 22, "N",
		  "ranked answers held for the impressions table\n"
		  "(default 16384; 0: record none); a full queue drops"),
	OPTS_STRING(0, "user", &args.run_as, "NAME",
		    "started as root: once listening, run as NAME (its uid\n"
		    "and gid, no supplementary groups), e.g. to use port 80"),
	OPTS_END,
};

static const opts_cmd cmd = {
	.prog = "ml-serve",
	.usage = "usage: ml-serve [--listen HOST:PORT] [--threads N] [--db URL] [--model-name NAME]\n"
		 "                [--poll SECONDS] [--max-body BYTES] [--timeout MS] [--access-log FILE]\n"
		 "                [--tracking-uri URI] [--user NAME] [--foldin-concurrency N]\n"
		 "                [--feedback-db URL] [--max-feedback-body BYTES] [--impressions-queue N]\n"
		 "                [--conn-lifetime SECONDS] [--online-window SECONDS]\n"
		 "\n"
		 "Serves recommendations over HTTP from the embedding set that the `serving` table\n"
		 "of the database points at, and reloads it when that changes.\n",
	.opts = options,
	.footer = "Environment: LENSFLOW_ADMIN_TOKEN enables POST /admin/reload (Bearer token);\n"
		  "LENSFLOW_FEEDBACK_TOKEN enables POST /feedback (Bearer token).\n"
		  "Stops cleanly on SIGTERM or SIGINT.\n"
		  "exit: 0 stopped, 64 usage, 67 no such --user, 69 cannot listen, 71 out of memory\n"
		  "\n"
		  "example:\n"
		  "  ml-pgload --load 3 --switch < model.lfe && ml-serve --listen 127.0.0.1:8000 &\n"
		  "  curl -s 127.0.0.1:8000/recommendations/1?k=5 | jq '.items[].title'\n",
};

/* What the table cannot say: names, the address, the user to become. */
static int check_args(void)
{
	const char *m = app.cfg.model_name;
	if (strlen(m) > 32 || strspn(m, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(m) ||
	    !(m[0] >= 'a' && m[0] <= 'z'))
		return opts_error(&cmd, "--model-name: '%s' is not a model name ([a-z][a-z0-9_]*, "
					"at most 32)", m);
	if (!app.cfg.db_url || !*app.cfg.db_url)
		return opts_error(&cmd, "no database: give --db URL or set DATABASE_URL");
	if (!app.cfg.feedback_db_url || !*app.cfg.feedback_db_url)
		app.cfg.feedback_db_url = app.cfg.db_url;
	lf_error err = {0};
	/* a typo is not an outage to wait out */
	if (pg_url_check(app.cfg.db_url, &err) < 0) {
		log_error("%s; fix --db or DATABASE_URL", err.msg);
		return EX_USAGE;
	}
	if (pg_url_check(app.cfg.feedback_db_url, &err) < 0) {
		log_error("%s; fix --feedback-db", err.msg);
		return EX_USAGE;
	}
	if (!args.listen || !*args.listen)
		args.listen = "127.0.0.1:8000";
	if (parse_listen(args.listen, args.ports, sizeof args.ports) < 0)
		return opts_error(&cmd, "--listen: '%s' is not PORT or ADDRESS:PORT (an IPv4 address)",
				  args.listen);
	app.cfg.listen = args.ports;
	if (args.conn_lifetime_given)
		db_set_conn_lifetime(args.conn_lifetime);
	if (args.run_as) {
		struct passwd *pw = getpwnam(args.run_as);
		if (!pw) {
			log_error("--user: no user '%s' on this system", args.run_as);
			return EX_NOUSER;
		}
		if (geteuid() != 0) {
			if (pw->pw_uid != geteuid())
				return opts_error(&cmd, "--user %s: only root can become another user; "
							"start ml-serve as root or leave --user out",
						  args.run_as);
			args.run_as = NULL; /* already that user */
		}
	}
	return 0;
}

/* civetweb's options (a NULL-ended name, value list) into opt. */
static void civetweb_options(const char **opt, char *threads, char *timeout, size_t n)
{
	snprintf(threads, n, "%d", app.cfg.threads * THREADS_PER_CONN);
	snprintf(timeout, n, "%d", app.cfg.timeout_ms);
	const char *fixed[] = {
		"listening_ports", args.ports, "num_threads", threads, "request_timeout_ms", timeout,
		"enable_keep_alive", "yes", "keep_alive_timeout_ms", "5000",
		/* An answer leaves in one write, but one larger than the socket buffer
		 * in several: without this, Nagle's algorithm and the client's delayed
		 * ACK could hold its tail for 40 ms. */
		"tcp_nodelay", "1",
		/* The path is matched as sent: decoded, "/movies/1%00junk" would reach the
		 * handler as "/movies/1" (civetweb decodes %00 into a NUL that ends the
		 * string). Names are literal and ids are digits, so nothing needs decoding. */
		"decode_url", "no",
	};
	int k = 0;
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		opt[k++] = fixed[i];
	if (args.run_as) { /* civetweb drops to it (gid, no supplementary groups, uid) once bound */
		opt[k++] = "run_as_user";
		opt[k++] = args.run_as;
	}
	if (app.cfg.access_log) {
		opt[k++] = "access_log_file";
		opt[k++] = app.cfg.access_log;
	}
	opt[k] = NULL;
}

/* Starts every part, serves until SIGTERM or SIGINT (blocked in stop), and
 * takes down whatever was started, in one place. Returns the exit status. */
static int serve(const sigset_t *stop)
{
	lf_error err = {0};
	mlflow ml = {0};
	struct mg_context *ctx = NULL;
	int rc = 0, pool_ok = 0, feedback_ok = 0, impressions_ok = 0;
	char threads[16], timeout[16];
	const char *cw_opts[20];
	struct mg_callbacks cb = {0};
	cb.log_message = quiet_log;
	cb.http_error = serve_http_error;
	/* Every request goes to serve_begin, which answers it: as civetweb's
	 * first callback it also skips what civetweb does before a registered
	 * handler, among it a stat() of "/.htpasswd" per request (the
	 * authorisation check of a handler's empty path). */
	cb.begin_request = serve_begin;
	cb.init_connection = serve_conn_init;
	civetweb_options(cw_opts, threads, timeout, sizeof threads);

	prom_init();
	prom_foldin_limit(args.foldin);
	mg_init_library(0);
	if (app.cfg.tracking_uri && *app.cfg.tracking_uri) {
		if (mlflow_open_timeout(&ml, app.cfg.tracking_uri, CHAMPION_TIMEOUT_S, &err) < 0) {
			lf_error_prefix(&err, "--tracking-uri");
			rc = EX_USAGE;
			goto out;
		}
		app.champion = mlflow_champion;
		app.champion_ctx = &ml;
	}
	if (db_pool_init(&app.pool, app.cfg.threads, app.cfg.db_url, &err) < 0)
		goto out;
	pool_ok = 1;
	if (db_pool_init(&app.feedback_pool, app.cfg.threads, app.cfg.feedback_db_url, &err) < 0)
		goto out;
	feedback_ok = 1;
	if (impressions_start(app.cfg.feedback_db_url, app.cfg.model_name, app.cfg.impressions_queue,
			      &err) < 0)
		goto out;
	impressions_ok = 1;
	if (poll_start(&app, &err) < 0)
		goto out;
	if (!(ctx = mg_start(&cb, &app, cw_opts))) {
		if (args.run_as)
			lf_fail(&err, EX_UNAVAILABLE, "cannot listen on %s as root, or cannot become "
				"user %s", args.ports, args.run_as);
		else
			lf_fail(&err, EX_UNAVAILABLE, "cannot listen on %s (address in use or not "
				"local?); choose another with --listen", args.ports);
		goto out;
	}
	if (args.run_as)
		log_info("running as user %s", args.run_as);
	log_info("listening on http://%s (%d threads), model %s, polling every %g s", args.ports,
		 app.cfg.threads, app.cfg.model_name, app.cfg.poll_s);
	int sig = 0;
	while (sigwait(stop, &sig) != 0)
		;
	log_info("stopping on %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
out:
	if (ctx)
		mg_stop(ctx);
	poll_stop(&app);
	if (impressions_ok)
		impressions_stop(); /* after the last answer: writes what the queue holds */
	if (feedback_ok)
		db_pool_free(&app.feedback_pool);
	if (pool_ok)
		db_pool_free(&app.pool);
	mlflow_close(&ml);
	snapshot_clear();
	mg_exit_library();
	pthread_mutex_destroy(&app.reload_lock);
	pthread_mutex_destroy(&app.poll_lock);
	if (!rc && err.code)
		rc = err.code;
	if (rc) {
		log_error("%s", err.msg);
		return rc;
	}
	log_info("stopped");
	return 0;
}

int main(int argc, char **argv)
{
	int argi, rc;
	log_set_prog(cmd.prog);
	/* A request body gets a buffer of up to --max-body bytes. A fixed threshold keeps
	 * the big ones in mmap, given back on free; left dynamic, glibc raises it after
	 * the first and every worker's arena then keeps a body's worth of memory. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	args.listen = getenv("LENSFLOW_LISTEN");
	args.foldin = default_foldin();
	app.cfg.db_url = getenv("DATABASE_URL");
	app.cfg.admin_token = getenv("LENSFLOW_ADMIN_TOKEN");
	app.cfg.feedback_token = getenv("LENSFLOW_FEEDBACK_TOKEN");
	app.cfg.tracking_uri = getenv("MLFLOW_TRACKING_URI");
	if ((rc = opts_parse(&cmd, argc, argv, &argi)) != OPTS_CONTINUE || (rc = check_args()))
		return rc;
	/* Signals are taken by sigwait in serve(); every thread started from here blocks them. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);
	return serve(&stop);
}
