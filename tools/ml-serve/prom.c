/*
 * prom.c — see prom.h. Every series is an array of _Atomic counters
 * indexed by its labels; durations are summed in nanoseconds (an integer, so
 * an atomic add suffices). Process metrics are read from /proc at render time.
 */
#include "prom.h"

#include <dirent.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "live.h"
#include "util.h"

/* Buckets that resolve well under a millisecond: a cached answer takes ~0.2 ms. */
static const double BUCKETS[] = {0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075,
				 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};
#define NB (sizeof BUCKETS / sizeof BUCKETS[0])
#define N_CLASS 5

struct hist {
	_Atomic uint64_t le[NB + 1]; /* per bucket (not cumulative); the last is +Inf */
	_Atomic uint64_t count;
	_Atomic uint64_t sum_ns;
};

static struct {
	struct hist http[ROUTE_COUNT][METHOD_COUNT][N_CLASS];
	struct hist db[Q_COUNT];
	struct hist inference;
	_Atomic uint64_t db_errors[Q_COUNT];
	_Atomic uint64_t served[KIND_COUNT];
	_Atomic uint64_t reloads[RELOAD_COUNT];
	_Atomic long in_flight;
	_Atomic int ready;
	_Atomic int champion;
	_Atomic int standby;
	_Atomic long long lag_us;
	_Atomic int foldin_in_flight;
	int foldin_limit;             /* set once before the server starts; 0: no bound */
	_Atomic uint64_t foldin_rejected;
	_Atomic uint64_t foldin_paced;
} M;

static const char *const ROUTES[ROUTE_COUNT] = {
	"/", "/healthz", "/readyz", "/metrics", "/model", "/recommendations",
	"/recommendations/{user_id}", "/movies/search", "/movies/{movie_id}",
	"/movies/{movie_id}/similar", "/users/{user_id}/ratings", "/admin/reload", "/feedback", "unmatched",
};
static const char *const METHODS[METHOD_COUNT] = {"GET", "POST", "HEAD", "PUT", "DELETE",
						  "PATCH", "OPTIONS", "other"};
static const char *const QUERIES[Q_COUNT] = {"user_recs", "new_user_recs", "similar", "search",
					     "movie", "user_ratings", "ping", "load",
					     "feedback"};
static const char *const KINDS[KIND_COUNT] = {"user", "new_user", "similar"};
static const char *const OUTCOMES[RELOAD_COUNT] = {"success", "failure", "unchanged"};

const char *route_template(enum route_id r)
{
	return (unsigned)r < ROUTE_COUNT ? ROUTES[r] : "unmatched";
}

const char *method_name(enum method_id m)
{
	return (unsigned)m < METHOD_COUNT ? METHODS[m] : "other";
}

enum method_id method_parse(const char *method)
{
	for (int m = 0; m < METHOD_OTHER; m++)
		if (strcmp(method, METHODS[m]) == 0)
			return (enum method_id)m;
	return METHOD_OTHER;
}

void prom_init(void)
{
	memset(&M, 0, sizeof M);
}

static void hist_observe(struct hist *h, double seconds)
{
	if (!(seconds >= 0))
		seconds = 0;
	size_t i = 0;
	while (i < NB && seconds > BUCKETS[i])
		i++;
	atomic_fetch_add_explicit(&h->le[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
	double ns = seconds * 1e9;
	atomic_fetch_add_explicit(&h->sum_ns, ns < 1.8e19 ? (uint64_t)ns : 0, memory_order_relaxed);
}

void prom_http(enum route_id r, enum method_id m, int status, double seconds)
{
	int c = status / 100 - 1;
	if (c < 0 || c >= N_CLASS)
		c = N_CLASS - 1;
	if ((unsigned)r >= ROUTE_COUNT)
		r = ROUTE_UNMATCHED;
	if ((unsigned)m >= METHOD_COUNT)
		m = METHOD_OTHER;
	hist_observe(&M.http[r][m][c], seconds);
}

void prom_in_flight(int delta)
{
	atomic_fetch_add(&M.in_flight, delta);
}
void prom_db(enum query_id q, double seconds)
{
	hist_observe(&M.db[q], seconds);
}
void prom_db_error(enum query_id q)
{
	atomic_fetch_add(&M.db_errors[q], 1);
}
void prom_inference(double seconds)
{
	hist_observe(&M.inference, seconds);
}
void prom_served(enum kind_id k, unsigned n)
{
	atomic_fetch_add(&M.served[k], n);
}
void prom_reload(enum reload_outcome o)
{
	atomic_fetch_add(&M.reloads[o], 1);
}
void prom_set_ready(int ready)
{
	atomic_store(&M.ready, ready);
}
void prom_set_champion(int version)
{
	atomic_store(&M.champion, version);
}

void prom_set_replica(int standby, double lag_s)
{
	atomic_store(&M.standby, standby);
	atomic_store(&M.lag_us, (long long)(lag_s * 1e6));
}

int prom_champion(void)
{
	return atomic_load(&M.champion);
}

void prom_foldin_limit(int limit)
{
	M.foldin_limit = limit;
}

int prom_foldin_enter(void)
{
	int was = atomic_fetch_add(&M.foldin_in_flight, 1);
	if (M.foldin_limit == 0 || was < M.foldin_limit)
		return 1;
	atomic_fetch_sub(&M.foldin_in_flight, 1);
	atomic_fetch_add_explicit(&M.foldin_rejected, 1, memory_order_relaxed);
	return 0;
}

void prom_foldin_leave(void)
{
	atomic_fetch_sub(&M.foldin_in_flight, 1);
}

void prom_foldin_paced(void)
{
	atomic_fetch_add_explicit(&M.foldin_paced, 1, memory_order_relaxed);
}

/* A sample's value: the shortest text that reads back (util.h). */
static void put_double(struct buf *b, double v)
{
	char s[FMT_DOUBLE_MAX];
	buf_puts(b, fmt_double(s, v));
}

/* One histogram's _bucket, _sum and _count lines; labels is "" or `a="b",`-style text. */
static void render_hist(struct buf *b, const char *name, const char *labels, struct hist *h)
{
	uint64_t cum = 0;
	for (size_t i = 0; i <= NB; i++) {
		cum += atomic_load_explicit(&h->le[i], memory_order_relaxed);
		if (i < NB)
			buf_printf(b, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels, BUCKETS[i],
				   (unsigned long long)cum);
		else
			buf_printf(b, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels,
				   (unsigned long long)cum);
	}
	/* The count is the +Inf bucket, so that the two always agree in one scrape. */
	size_t n = strlen(labels);
	buf_printf(b, "%s_sum%s%.*s%s %.9f\n", name, n ? "{" : "", n ? (int)n - 1 : 0, labels,
		   n ? "}" : "", (double)atomic_load(&h->sum_ns) / 1e9);
	buf_printf(b, "%s_count%s%.*s%s %llu\n", name, n ? "{" : "", n ? (int)n - 1 : 0, labels,
		   n ? "}" : "", (unsigned long long)cum);
}

static void head(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Fields 3.. of /proc/self/stat (after the ")" that closes the command name,
 * which may hold spaces) into f[0..]; returns how many. */
static int stat_fields(char *line, int64_t *f, int max)
{
	char *p = strrchr(line, ')'), *save = NULL;
	if (!p)
		return 0;
	int n = 0;
	for (char *t = strtok_r(p + 1, " \n", &save); t && n < max; t = strtok_r(NULL, " \n", &save)) {
		int64_t v = 0;
		parse_i64(t, INT64_MIN, INT64_MAX, &v); /* the state letter reads as 0 */
		f[n++] = v;
	}
	return n;
}

static void render_process(struct buf *b)
{
	long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	FILE *f = fopen("/proc/self/stat", "r");
	char line[1024];
	int64_t fld[24];
	/* proc(5) numbers fields from 1; fld[0] is field 3 (state). */
	if (f && fgets(line, sizeof line, f) && stat_fields(line, fld, 24) >= 22 && tck > 0) {
		int64_t utime = fld[11], stime = fld[12], threads = fld[17], start = fld[19];
		int64_t vsize = fld[20], rss = fld[21];
		head(b, "process_cpu_seconds_total", "counter",
		     "Total user and system CPU time spent in seconds.");
		buf_printf(b, "process_cpu_seconds_total %.2f\n",
			   (double)(utime + stime) / (double)tck);
		head(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
		buf_printf(b, "process_resident_memory_bytes %lld\n", (long long)rss * (long long)page);
		head(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
		buf_printf(b, "process_virtual_memory_bytes %lld\n", (long long)vsize);
		head(b, "process_threads", "gauge", "Number of OS threads in the process.");
		buf_printf(b, "process_threads %lld\n", (long long)threads);
		FILE *s = fopen("/proc/stat", "r");
		int64_t btime = 0;
		while (s && fgets(line, sizeof line, s))
			if (strncmp(line, "btime ", 6) == 0) {
				line[strcspn(line, "\n")] = '\0';
				if (parse_i64(line + 6, 0, INT64_MAX, &btime) < 0)
					btime = 0;
				break;
			}
		if (s)
			fclose(s);
		if (btime) {
			head(b, "process_start_time_seconds", "gauge",
			     "Start time of the process since unix epoch in seconds.");
			buf_printf(b, "process_start_time_seconds %.2f\n",
				   (double)btime + (double)start / (double)tck);
		}
	}
	if (f)
		fclose(f);
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		long n = 0;
		struct dirent *e;
		while ((e = readdir(d)))
			if (e->d_name[0] != '.')
				n++;
		closedir(d);
		head(b, "process_open_fds", "gauge", "Number of open file descriptors.");
		buf_printf(b, "process_open_fds %ld\n", n - 1); /* minus the one opendir holds */
	}
	long max = sysconf(_SC_OPEN_MAX);
	if (max > 0) {
		head(b, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
		buf_printf(b, "process_max_fds %ld\n", max);
	}
}

char *prom_render(const struct prom_model *model, size_t *len)
{
	struct buf b = {0};
	char labels[160];

	head(&b, "lensflow_http_requests_total", "counter",
	     "HTTP requests answered, by method, route template and status class.");
	for (int r = 0; r < ROUTE_COUNT; r++)
		for (int m = 0; m < METHOD_COUNT; m++)
			for (int c = 0; c < N_CLASS; c++) {
				uint64_t n = atomic_load(&M.http[r][m][c].count);
				if (n)
					buf_printf(&b,
						   "lensflow_http_requests_total{method=\"%s\",route=\"%s\","
						   "status_class=\"%dxx\"} %llu\n",
						   METHODS[m], ROUTES[r], c + 1, (unsigned long long)n);
			}
	head(&b, "lensflow_http_request_duration_seconds", "histogram",
	     "Time from request received to response sent, by method, route template and status "
	     "class.");
	for (int r = 0; r < ROUTE_COUNT; r++)
		for (int m = 0; m < METHOD_COUNT; m++)
			for (int c = 0; c < N_CLASS; c++)
				if (atomic_load(&M.http[r][m][c].count)) {
					snprintf(labels, sizeof labels,
						 "method=\"%s\",route=\"%s\",status_class=\"%dxx\",",
						 METHODS[m], ROUTES[r], c + 1);
					render_hist(&b, "lensflow_http_request_duration_seconds", labels,
						    &M.http[r][m][c]);
				}
	head(&b, "lensflow_http_requests_in_flight", "gauge", "Requests being handled right now.");
	buf_printf(&b, "lensflow_http_requests_in_flight %ld\n", atomic_load(&M.in_flight));

	head(&b, "lensflow_db_query_seconds", "histogram",
	     "Database query time including a reconnection when needed, by query.");
	for (int q = 0; q < Q_COUNT; q++) {
		snprintf(labels, sizeof labels, "query=\"%s\",", QUERIES[q]);
		render_hist(&b, "lensflow_db_query_seconds", labels, &M.db[q]);
	}
	head(&b, "lensflow_db_errors_total", "counter",
	     "Queries that failed because the database was unreachable, timed out or refused them.");
	for (int q = 0; q < Q_COUNT; q++)
		buf_printf(&b, "lensflow_db_errors_total{query=\"%s\"} %llu\n", QUERIES[q],
			   (unsigned long long)atomic_load(&M.db_errors[q]));
	head(&b, "lensflow_model_inference_seconds", "histogram",
	     "In-process model work per request (fold-in of a new user's ratings).");
	render_hist(&b, "lensflow_model_inference_seconds", "operation=\"fold_in\",", &M.inference);
	head(&b, "lensflow_foldin_in_flight", "gauge",
	     "Fold-ins (POST /recommendations) being handled right now.");
	buf_printf(&b, "lensflow_foldin_in_flight %d\n", atomic_load(&M.foldin_in_flight));
	head(&b, "lensflow_foldin_concurrency_limit", "gauge",
	     "Most fold-ins handled at a time (--foldin-concurrency; 0: no bound).");
	buf_printf(&b, "lensflow_foldin_concurrency_limit %d\n", M.foldin_limit);
	head(&b, "lensflow_foldin_rejected_total", "counter",
	     "Fold-ins answered 503 at once because the limit were in flight already.");
	buf_printf(&b, "lensflow_foldin_rejected_total %llu\n",
		   (unsigned long long)atomic_load(&M.foldin_rejected));
	head(&b, "lensflow_foldin_paced_total", "counter",
	     "Of those, refusals held 2 ms because the client came back on its connection "
	     "within the Retry-After of its last refusal.");
	buf_printf(&b, "lensflow_foldin_paced_total %llu\n",
		   (unsigned long long)atomic_load(&M.foldin_paced));
	head(&b, "lensflow_recommendations_served_total", "counter",
	     "Movies returned to clients, by endpoint kind (user, new_user, similar).");
	for (int k = 0; k < KIND_COUNT; k++)
		buf_printf(&b, "lensflow_recommendations_served_total{kind=\"%s\"} %llu\n", KINDS[k],
			   (unsigned long long)atomic_load(&M.served[k]));
	head(&b, "lensflow_model_reloads_total", "counter",
	     "Model reloads, by outcome (success, failure, unchanged).");
	for (int o = 0; o < RELOAD_COUNT; o++)
		buf_printf(&b, "lensflow_model_reloads_total{outcome=\"%s\"} %llu\n", OUTCOMES[o],
			   (unsigned long long)atomic_load(&M.reloads[o]));

	head(&b, "lensflow_ready", "gauge",
	     "1 when the database answers and a model with its embeddings is loaded, else 0.");
	buf_printf(&b, "lensflow_ready %d\n", atomic_load(&M.ready));
	head(&b, "lensflow_serving_model_version", "gauge",
	     "Version of the model being served (0 when none).");
	buf_printf(&b, "lensflow_serving_model_version %d\n", model->version);
	head(&b, "lensflow_db_standby", "gauge",
	     "1 when the server the poll reads the serving table from is a hot standby.");
	buf_printf(&b, "lensflow_db_standby %d\n", atomic_load(&M.standby));
	head(&b, "lensflow_db_replay_lag_seconds", "gauge",
	     "Replication lag of that server at the last poll: now minus its last replayed commit "
	     "while it has WAL left to replay, else 0 (0 on a primary).");
	buf_printf(&b, "lensflow_db_replay_lag_seconds %.6f\n",
		   (double)atomic_load(&M.lag_us) / 1e6);
	head(&b, "lensflow_registry_champion_version", "gauge",
	     "Version the registry's champion alias points at, as last read (0 when unknown).");
	buf_printf(&b, "lensflow_registry_champion_version %d\n", atomic_load(&M.champion));
	if (model->version > 0) {
		head(&b, "lensflow_model_info", "gauge",
		     "1 for the model being served; its name, version and run id as labels.");
		buf_puts(&b, "lensflow_model_info{name=\"");
		buf_label(&b, model->name);
		buf_printf(&b, "\",version=\"%d\",run_id=\"", model->version);
		buf_label(&b, model->run_id ? model->run_id : "");
		buf_puts(&b, "\"} 1\n");
		head(&b, "lensflow_model_loaded_timestamp_seconds", "gauge",
		     "Unix time the serving model was loaded.");
		buf_printf(&b, "lensflow_model_loaded_timestamp_seconds %.3f\n", model->loaded_at);
		if (model->n_offline) {
			head(&b, "lensflow_model_offline_metric", "gauge",
			     "Offline evaluation metric of the serving model, as recorded with its set.");
			for (size_t i = 0; i < model->n_offline; i++) {
				buf_puts(&b, "lensflow_model_offline_metric{metric=\"");
				buf_label(&b, model->offline_names[i]);
				buf_puts(&b, "\"} ");
				put_double(&b, model->offline_values[i]);
				buf_puts(&b, "\n");
			}
		}
	}
	head(&b, "lensflow_build_info", "gauge", "The build: version and git commit as labels.");
	buf_printf(&b, "lensflow_build_info{version=\"%s\",commit=\"%s\"} 1\n", LENSFLOW_VERSION,
		   LENSFLOW_COMMIT);
	live_render(&b); /* live.h: feedback, impressions, arms, online evaluation */
	render_process(&b);
	return buf_take(&b, len);
}
