/*
 * prom.h — ml-serve's Prometheus registry: fixed label sets kept in arrays
 * of atomic counters, so that recording a request is a handful of atomic adds
 * and never allocates, and rendering walks the arrays.
 *
 * Names and labels are those that prometheus/ and grafana/ query:
 * lensflow_http_requests_total{method,route,status_class},
 * lensflow_http_request_duration_seconds{method,route,status_class},
 * lensflow_db_query_seconds{query}, lensflow_db_errors_total{query},
 * lensflow_model_inference_seconds{operation}, lensflow_recommendations_served_total{kind},
 * lensflow_model_reloads_total{outcome}, gauges, build and process metrics.
 * Labels are route templates and fixed names, never an id from a request.
 *
 * Ownership: the registry is one static object; prom_render() returns a
 * malloc'ed buffer that the caller frees.
 */
#ifndef ML_SERVE_PROM_H
#define ML_SERVE_PROM_H

#include <stddef.h>

enum route_id {
	ROUTE_ROOT,
	ROUTE_HEALTHZ,
	ROUTE_READYZ,
	ROUTE_METRICS,
	ROUTE_MODEL,
	ROUTE_RECS_NEW,     /* POST /recommendations */
	ROUTE_RECS_USER,    /* GET /recommendations/{user_id} */
	ROUTE_SEARCH,
	ROUTE_MOVIE,
	ROUTE_SIMILAR,
	ROUTE_USER_RATINGS,
	ROUTE_RELOAD,
	ROUTE_FEEDBACK,     /* POST /feedback */
	ROUTE_UNMATCHED,
	ROUTE_COUNT
};

enum method_id { METHOD_GET, METHOD_POST, METHOD_HEAD, METHOD_PUT, METHOD_DELETE,
		 METHOD_PATCH, METHOD_OPTIONS, METHOD_OTHER, METHOD_COUNT };

/* lib/store's statements in its order (enum store_query; db.c checks), then
 * the snapshot's load */
enum query_id { Q_USER_RECS, Q_NEW_USER_RECS, Q_SIMILAR, Q_SEARCH, Q_MOVIE, Q_USER_RATINGS,
		Q_PING, Q_LOAD, Q_FEEDBACK, Q_COUNT };

enum kind_id { KIND_USER, KIND_NEW_USER, KIND_SIMILAR, KIND_COUNT };

enum reload_outcome { RELOAD_SUCCESS, RELOAD_FAILURE, RELOAD_UNCHANGED, RELOAD_COUNT };

/* The route template ("/recommendations/{user_id}") and method names. */
const char *route_template(enum route_id r);
const char *method_name(enum method_id m);
enum method_id method_parse(const char *method);

void prom_init(void);
void prom_http(enum route_id r, enum method_id m, int status, double seconds);
void prom_in_flight(int delta);
void prom_db(enum query_id q, double seconds);
void prom_db_error(enum query_id q);
void prom_inference(double seconds);
void prom_served(enum kind_id k, unsigned n);
void prom_reload(enum reload_outcome o);
void prom_set_ready(int ready);
void prom_set_champion(int version);
/* The server the poll thread reads from: a standby (1) or the primary, and its replay lag. */
void prom_set_replica(int standby, double lag_s);
int prom_champion(void);
/* The fold-in bulkhead (POST /recommendations): at most limit fold-ins at a
 * time, limit 0 meaning no bound. prom_foldin_enter is a non-blocking
 * try-acquire: 1 when admitted (then prom_foldin_leave once done), 0 when
 * limit are in flight already (counted as a rejection). */
void prom_foldin_limit(int limit);
int prom_foldin_enter(void);
void prom_foldin_leave(void);
/* A refusal paced because its client came back before Retry-After (routes.c). */
void prom_foldin_paced(void);

/* What the model gauges show; the strings are copied. */
struct prom_model {
	const char *name;
	int version;             /* 0: none */
	const char *run_id;
	double loaded_at;        /* unix seconds */
	size_t n_offline;
	const char *const *offline_names;
	const double *offline_values;
};

/* Renders the exposition text (format 0.0.4) into a new buffer. NULL when out of memory. */
char *prom_render(const struct prom_model *model, size_t *len);

#endif
