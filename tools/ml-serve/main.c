/*
 * ml-serve — the lensflow HTTP API: recommendations from the embedding set
 * that the `serving` table points at, answered by pgvector, with Prometheus
 * metrics. main() parses options and wires the parts: civetweb answering
 * every request in its begin_request callback (routes.c), a pool of
 * --threads PostgreSQL connections shared by civetweb's 4 x --threads threads
 * (db.c), the in-memory snapshot (snapshot.c) and its poll thread (reload.c).
 */
#include <getopt.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "impressions.h"
#include "mlflow.h"
#include "serve.h"
#include "util.h"

/* Seconds MLflow may take to answer the poll thread: a slow registry must not
 * delay the next look at the serving table by much. */
#define CHAMPION_TIMEOUT_S 2

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ml-serve [--listen HOST:PORT] [--threads N] [--db URL] [--model-name NAME]\n"
		"                [--poll SECONDS] [--max-body BYTES] [--timeout MS] [--access-log FILE]\n"
		"                [--tracking-uri URI] [--user NAME] [--foldin-concurrency N]\n"
		"                [--feedback-db URL] [--max-feedback-body BYTES] [--impressions-queue N]\n"
		"\n"
		"Serves recommendations over HTTP from the embedding set that the `serving` table\n"
		"of the database points at, and reloads it when that changes.\n"
		"\n"
		"  -l, --listen HOST:PORT  where to listen (default $LENSFLOW_LISTEN, else 127.0.0.1:8000)\n"
		"  -t, --threads N         database connections, each serving one request at a\n"
		"                          time (default 16); civetweb runs 4 x N threads, one per\n"
		"                          connected client\n"
		"  -d, --db URL            libpq URL (default $DATABASE_URL)\n"
		"  -m, --model-name NAME   model whose served set to answer with (default lensflow)\n"
		"  -p, --poll SECONDS      how often to look at the serving table (default 10)\n"
		"      --max-body BYTES    largest request body (default 65536)\n"
		"      --timeout MS        request timeout (default 10000)\n"
		"      --access-log FILE   write an access log (default: none)\n"
		"      --foldin-concurrency N  most new-user fold-ins (POST /recommendations)\n"
		"                          at a time; more are answered 503 with Retry-After at\n"
		"                          once (default: half the CPUs, at least 1; 0: no bound)\n"
		"      --tracking-uri URI  MLflow, read every poll for the champion's version\n"
		"                          (default $MLFLOW_TRACKING_URI; unset: not read)\n"
		"      --feedback-db URL   where POST /feedback and the impressions are written\n"
		"                          (default: --db), e.g. the primary when --db is a standby\n"
		"      --max-feedback-body BYTES  largest POST /feedback body (default 262144)\n"
		"      --online-window SECONDS  the online gauges' window: answers served that\n"
		"                          long ago at most, hits rated that long after (86400)\n"
		"      --impressions-queue N  ranked answers held for the impressions table\n"
		"                          (default 16384; 0: record none); a full queue drops\n"
		"      --user NAME         started as root: once listening, run as NAME (its uid\n"
		"                          and gid, no supplementary groups), e.g. to use port 80\n"
		"  -h, --help              this help\n"
		"      --version           version and commit\n"
		"\n"
		"Environment: LENSFLOW_ADMIN_TOKEN enables POST /admin/reload (Bearer token);\n"
		"LENSFLOW_FEEDBACK_TOKEN enables POST /feedback (Bearer token).\n"
		"Stops cleanly on SIGTERM or SIGINT.\n"
		"\n"
		"example:\n"
		"  ml-pgload --version 3 --switch < model.lfe && ml-serve --listen 127.0.0.1:8000 &\n"
		"  curl -s 127.0.0.1:8000/recommendations/1?k=5 | jq '.items[].title'\n");
}

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

enum { OPT_VERSION = 256, OPT_MAX_BODY, OPT_TIMEOUT, OPT_ACCESS_LOG, OPT_TRACKING, OPT_USER,
       OPT_FOLDIN, OPT_FEEDBACK_DB, OPT_MAX_FEEDBACK_BODY, OPT_IMPRESSIONS_QUEUE,
       OPT_ONLINE_WINDOW };

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

int main(int argc, char **argv)
{
	log_set_prog("ml-serve");
	/* A request body gets a buffer of up to --max-body bytes. A fixed threshold keeps
	 * the big ones in mmap, given back on free; left dynamic, glibc raises it after
	 * the first and every worker's arena then keeps a body's worth of memory. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	struct serve_app app = {
		.cfg = {.threads = 16, .model_name = "lensflow", .poll_s = 10, .max_body = 65536,
			.timeout_ms = 10000, .max_feedback_body = 262144, .impressions_queue = 16384,
			.online_window_s = 86400},
		.reload_lock = PTHREAD_MUTEX_INITIALIZER,
		.poll_lock = PTHREAD_MUTEX_INITIALIZER,
	};
	const char *listen = getenv("LENSFLOW_LISTEN");
	const char *run_as = NULL;
	int foldin = default_foldin();
	app.cfg.db_url = getenv("DATABASE_URL");
	app.cfg.admin_token = getenv("LENSFLOW_ADMIN_TOKEN");
	app.cfg.feedback_token = getenv("LENSFLOW_FEEDBACK_TOKEN");
	app.cfg.tracking_uri = getenv("MLFLOW_TRACKING_URI");
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"threads", required_argument, NULL, 't'},
		{"db", required_argument, NULL, 'd'},
		{"model-name", required_argument, NULL, 'm'},
		{"poll", required_argument, NULL, 'p'},
		{"max-body", required_argument, NULL, OPT_MAX_BODY},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"access-log", required_argument, NULL, OPT_ACCESS_LOG},
		{"tracking-uri", required_argument, NULL, OPT_TRACKING},
		{"user", required_argument, NULL, OPT_USER},
		{"foldin-concurrency", required_argument, NULL, OPT_FOLDIN},
		{"feedback-db", required_argument, NULL, OPT_FEEDBACK_DB},
		{"max-feedback-body", required_argument, NULL, OPT_MAX_FEEDBACK_BODY},
		{"impressions-queue", required_argument, NULL, OPT_IMPRESSIONS_QUEUE},
		{"online-window", required_argument, NULL, OPT_ONLINE_WINDOW},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, OPT_VERSION},
		{NULL, 0, NULL, 0},
	};
	int c;
	int64_t v;
	while ((c = getopt_long(argc, argv, "l:t:d:m:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l': listen = optarg; break;
		case 'd': app.cfg.db_url = optarg; break;
		case 'm':
			app.cfg.model_name = optarg;
			if (strlen(optarg) > 32 || strspn(optarg, "abcdefghijklmnopqrstuvwxyz0123456789_")
							   != strlen(optarg) ||
			    !(optarg[0] >= 'a' && optarg[0] <= 'z')) {
				log_error("--model-name: '%s' is not a model name ([a-z][a-z0-9_]*, "
					  "at most 32)", optarg);
				return EX_USAGE;
			}
			break;
		case 't':
			if (parse_i64(optarg, 1, 256, &v) < 0) {
				log_error("--threads: '%s' is not an integer from 1 to 256", optarg);
				return EX_USAGE;
			}
			app.cfg.threads = (int)v;
			break;
		case 'p':
			if (parse_double(optarg, 0.05, 86400, &app.cfg.poll_s) < 0) {
				log_error("--poll: '%s' is not a number of seconds from 0.05 to 86400",
					  optarg);
				return EX_USAGE;
			}
			break;
		case OPT_MAX_BODY:
			if (parse_i64(optarg, 64, 64 << 20, &v) < 0) {
				log_error("--max-body: '%s' is not a size from 64 to 67108864 bytes",
					  optarg);
				return EX_USAGE;
			}
			app.cfg.max_body = (size_t)v;
			break;
		case OPT_TIMEOUT:
			if (parse_i64(optarg, 100, 3600000, &v) < 0) {
				log_error("--timeout: '%s' is not a number of milliseconds from 100 "
					  "to 3600000", optarg);
				return EX_USAGE;
			}
			app.cfg.timeout_ms = (int)v;
			break;
		case OPT_ACCESS_LOG: app.cfg.access_log = optarg; break;
		case OPT_TRACKING: app.cfg.tracking_uri = optarg; break;
		case OPT_USER: run_as = optarg; break;
		case OPT_FEEDBACK_DB: app.cfg.feedback_db_url = optarg; break;
		case OPT_ONLINE_WINDOW:
			if (parse_double(optarg, 1, 365 * 86400.0, &app.cfg.online_window_s) < 0) {
				log_error("--online-window: '%s' is not a number of seconds from 1 to "
					  "31536000", optarg);
				return EX_USAGE;
			}
			break;
		case OPT_MAX_FEEDBACK_BODY:
			if (parse_i64(optarg, 64, 64 << 20, &v) < 0) {
				log_error("--max-feedback-body: '%s' is not a size from 64 to 67108864 "
					  "bytes", optarg);
				return EX_USAGE;
			}
			app.cfg.max_feedback_body = (size_t)v;
			break;
		case OPT_IMPRESSIONS_QUEUE:
			if (parse_i64(optarg, 0, 1 << 22, &v) < 0) {
				log_error("--impressions-queue: '%s' is not a count from 0 to 4194304",
					  optarg);
				return EX_USAGE;
			}
			app.cfg.impressions_queue = (size_t)v;
			break;
		case OPT_FOLDIN:
			if (parse_i64(optarg, 0, 1024, &v) < 0) {
				log_error("--foldin-concurrency: '%s' is not an integer from 0 to 1024",
					  optarg);
				return EX_USAGE;
			}
			foldin = (int)v;
			break;
		case 'h': usage(stdout); return 0;
		case OPT_VERSION:
			printf("ml-serve lensflow %s (%s)\n", LENSFLOW_VERSION, LENSFLOW_COMMIT);
			return 0;
		default:
			fprintf(stderr, "Try 'ml-serve --help'.\n");
			return EX_USAGE;
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s'; try 'ml-serve --help'", argv[optind]);
		return EX_USAGE;
	}
	if (!app.cfg.db_url || !*app.cfg.db_url) {
		log_error("no database: give --db URL or set DATABASE_URL");
		return EX_USAGE;
	}
	if (!app.cfg.feedback_db_url || !*app.cfg.feedback_db_url)
		app.cfg.feedback_db_url = app.cfg.db_url;
	char ports[128];
	if (!listen || !*listen)
		listen = "127.0.0.1:8000";
	if (parse_listen(listen, ports, sizeof ports) < 0) {
		log_error("--listen: '%s' is not PORT or ADDRESS:PORT (an IPv4 address)", listen);
		return EX_USAGE;
	}
	app.cfg.listen = ports;
	if (run_as) {
		struct passwd *pw = getpwnam(run_as);
		if (!pw) {
			log_error("--user: no user '%s' on this system", run_as);
			return EX_NOUSER;
		}
		if (geteuid() != 0) {
			if (pw->pw_uid != geteuid()) {
				log_error("--user %s: only root can become another user; start ml-serve "
					  "as root or leave --user out", run_as);
				return EX_USAGE;
			}
			run_as = NULL; /* already that user */
		}
	}

	/* Signals are taken by sigwait in this thread; every thread started from here blocks them. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	metrics_init();
	metrics_foldin_limit(foldin);
	mg_init_library(0);
	char threads[16], timeout[16];
	snprintf(threads, sizeof threads, "%d", app.cfg.threads * THREADS_PER_CONN);
	snprintf(timeout, sizeof timeout, "%d", app.cfg.timeout_ms);
	const char *options[20] = {
		"listening_ports", ports, "num_threads", threads, "request_timeout_ms", timeout,
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
	int n_opt = 14;
	if (run_as) { /* civetweb drops to it (gid, no supplementary groups, uid) once bound */
		options[n_opt++] = "run_as_user";
		options[n_opt++] = run_as;
	}
	if (app.cfg.access_log) {
		options[n_opt++] = "access_log_file";
		options[n_opt++] = app.cfg.access_log;
	}
	options[n_opt] = NULL;
	struct mg_callbacks cb = {0};
	cb.log_message = quiet_log;
	cb.http_error = serve_http_error;
	/* Every request goes to serve_begin, which answers it: as civetweb's
	 * first callback it also skips what civetweb does before a registered
	 * handler, among it a stat() of "/.htpasswd" per request (the
	 * authorisation check of a handler's empty path). */
	cb.begin_request = serve_begin;
	lf_error err = {0};
	mlflow ml = {0};
	if (app.cfg.tracking_uri && *app.cfg.tracking_uri) {
		if (http_open(&ml.http, app.cfg.tracking_uri, CHAMPION_TIMEOUT_S, &err) < 0) {
			mg_exit_library();
			log_error("--tracking-uri: %s", err.msg);
			return EX_USAGE;
		}
		app.champion = mlflow_champion;
		app.champion_ctx = &ml;
	}
	if (db_pool_init(&app.pool, app.cfg.threads, app.cfg.db_url, &err) < 0) {
		mlflow_close(&ml);
		mg_exit_library();
		log_error("%s", err.msg);
		return err.code;
	}
	if (db_pool_init(&app.feedback_pool, app.cfg.threads, app.cfg.feedback_db_url, &err) < 0) {
		db_pool_free(&app.pool);
		mlflow_close(&ml);
		mg_exit_library();
		log_error("%s", err.msg);
		return err.code;
	}
	if (impressions_start(app.cfg.feedback_db_url, app.cfg.model_name, app.cfg.impressions_queue,
			      &err) < 0) {
		db_pool_free(&app.feedback_pool);
		db_pool_free(&app.pool);
		mlflow_close(&ml);
		mg_exit_library();
		log_error("%s", err.msg);
		return err.code;
	}
	if (poll_start(&app, &err) < 0) {
		impressions_stop();
		db_pool_free(&app.feedback_pool);
		db_pool_free(&app.pool);
		mlflow_close(&ml);
		mg_exit_library();
		log_error("%s", err.msg);
		return err.code;
	}
	struct mg_context *ctx = mg_start(&cb, &app, options);
	if (!ctx) {
		poll_stop(&app);
		impressions_stop();
		db_pool_free(&app.feedback_pool);
		db_pool_free(&app.pool);
		mlflow_close(&ml);
		snapshot_clear();
		mg_exit_library();
		if (run_as)
			log_error("cannot listen on %s as root, or cannot become user %s", ports,
				  run_as);
		else
			log_error("cannot listen on %s (address in use or not local?); choose another "
				  "with --listen", ports);
		return EX_UNAVAILABLE;
	}
	if (run_as)
		log_info("running as user %s", run_as);
	log_info("listening on http://%s (%d threads), model %s, polling every %g s", ports,
		 app.cfg.threads, app.cfg.model_name, app.cfg.poll_s);

	int sig = 0;
	while (sigwait(&stop, &sig) != 0)
		;
	log_info("stopping on %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	mg_stop(ctx);
	poll_stop(&app);
	impressions_stop(); /* after the last answer: writes what the queue holds */
	db_pool_free(&app.feedback_pool);
	db_pool_free(&app.pool);
	mlflow_close(&ml);
	snapshot_clear();
	mg_exit_library();
	pthread_mutex_destroy(&app.reload_lock);
	pthread_mutex_destroy(&app.poll_lock);
	log_info("stopped");
	return 0;
}
