/*
 * reload.c — switching the served snapshot: serve_reload() (called by
 * /admin/reload and by the poll thread) and the poll thread itself, which
 * asks the `serving` table every --poll seconds (every second while nothing
 * is loaded) and reloads when it points at another version, so that a cron
 * retrain is served without a restart.
 */
#include <errno.h>
#include <time.h>

#include "serve.h"
#include "live.h"
#include "store_online.h"
#include "store_replica.h"
#include "store_serving.h"
#include "util.h"

/* The version an arm serves now (0: none). */
static int arm_version(enum arm arm)
{
	struct snapshot *s = snapshot_current_arm(arm);
	int v = s ? s->version : 0;
	snapshot_release(s);
	return v;
}

/* Loads version (0: none) into the arm's holder; logs the move. */
static int load_arm(struct serve_app *app, PGconn *conn, enum arm arm, int version, int was,
		    lf_error *err)
{
	double start = now_seconds();
	struct snapshot *s = NULL;
	if (version && snapshot_load(conn, app->cfg.model_name, version, &s, err) < 0)
		return -1;
	char before[24] = "none";
	if (was)
		snprintf(before, sizeof before, "v%d", was);
	if (s)
		log_info("serving %s v%d%s (was %s): %zu movies, %zu users, dim %zu, loaded in "
			 "%.2f s", s->model_name, s->version,
			 arm == ARM_CHALLENGER ? " as the challenger" : "", before, s->n_items,
			 s->n_users, s->dim, now_seconds() - start);
	else
		log_info("no challenger (was %s)", before);
	snapshot_publish_arm(arm, s);
	return 0;
}

int serve_reload(struct serve_app *app, PGconn *conn, int from_poll, int *prev, int *now,
		 lf_error *err)
{
	pthread_mutex_lock(&app->reload_lock);
	*prev = *now = arm_version(ARM_CHAMPION);
	int challenger = arm_version(ARM_CHALLENGER);
	int rc = -1, loading = 0;
	double start = now_seconds();
	struct serving_row row;
	if (store_serving_get(conn, app->cfg.model_name, &row, err) < 0) {
		if (PQstatus(conn) != CONNECTION_OK)
			err->code = EX_UNAVAILABLE;
		goto out;
	}
	if (row.version == 0) {
		/* Nothing switched yet (or the row is gone): keep what is served, if anything. */
		lf_fail(err, EX_DATAERR, "no set of model %s is served; switch one with "
			"ml-pgload --switch N", app->cfg.model_name);
		goto out;
	}
	if (row.challenger == row.version)
		row.challenger = 0; /* promoted: served to all */
	if (row.version == *prev && row.challenger == challenger) {
		snapshot_set_share(row.share);
		prom_set_arms(row.challenger, row.share);
		/* A poll that finds nothing new is not a reload. */
		if (!from_poll)
			prom_reload(RELOAD_UNCHANGED);
		pthread_mutex_unlock(&app->reload_lock);
		return 0;
	}
	loading = 1;
	/* The challenger first: for a moment its users may get the new champion, never
	 * a challenger that is the champion already. */
	if (row.challenger != challenger &&
	    load_arm(app, conn, ARM_CHALLENGER, row.challenger, challenger, err) < 0)
		goto out;
	snapshot_set_share(row.share);
	prom_set_arms(row.challenger, row.share);
	if (row.version != *prev && load_arm(app, conn, ARM_CHAMPION, row.version, *prev, err) < 0)
		goto out;
	*now = row.version;
	prom_reload(RELOAD_SUCCESS);
	rc = 0;
out:
	/* A poll that cannot even ask (the database is down) is not a failed reload. */
	if (rc < 0 && (loading || !from_poll))
		prom_reload(RELOAD_FAILURE);
	if (loading)
		prom_db(Q_LOAD, now_seconds() - start);
	pthread_mutex_unlock(&app->reload_lock);
	return rc;
}

/* One poll: reload when serving changed; ready = the database answered and a set is loaded.
 * The poll's connection is made anew past its lifetime like the workers'; the replication
 * state of its server goes to the metrics. */
static void poll_once(struct serve_app *app, PGconn **conn, double *expires, int *failing)
{
	lf_error err = {0};
	if (!*conn || PQstatus(*conn) != CONNECTION_OK || (*expires > 0 && now_seconds() >= *expires)) {
		if (*conn)
			PQfinish(*conn);
		*conn = db_connect(app->cfg.db_url, &err);
		*expires = db_conn_expiry(now_seconds());
	}
	int prev = 0, now = 0;
	if (*conn && serve_reload(app, *conn, 1, &prev, &now, &err) == 0) {
		if (*failing)
			log_info("the served set is loaded again");
		*failing = 0;
		prom_set_ready(now != 0);
		int standby = 0;
		double lag = 0;
		lf_error rerr = {0};
		if (store_replica_state(*conn, &standby, &lag, &rerr) == 0)
			prom_set_replica(standby, lag);
		return;
	}
	/* A set that cannot be loaded leaves the current one served: still ready
	 * when there is one and the database answered. */
	int answered = *conn && err.code != EX_UNAVAILABLE;
	struct snapshot *s = snapshot_current();
	prom_set_ready(answered && s != NULL);
	snapshot_release(s);
	if (!answered && *conn) {
		PQfinish(*conn);
		*conn = NULL;
	}
	/* Log a failure once, not at every poll. */
	if (!*failing)
		log_error("cannot load the served set: %s", err.msg);
	*failing = 1;
}

/* The registry's champion version for lensflow_registry_champion_version and
 * /model's alias; read here only, never on a request path. A failure keeps
 * the last value and is logged once until the registry answers again. */
static void poll_champion(struct serve_app *app, int *failing)
{
	lf_error err = {0};
	int version = 0;
	if (app->champion(app->champion_ctx, app->cfg.model_name, &version, &err) < 0) {
		if (!*failing)
			log_error("cannot read the champion from the registry: %s", err.msg);
		*failing = 1;
		return;
	}
	*failing = 0;
	prom_set_champion(version);
}

/* The online evaluation's gauges: the window's impressions and hits of the
 * version each arm serves now (lib/store_online.h), asked once per poll. A
 * failure keeps the last values. */
static void poll_online(struct serve_app *app, PGconn *conn)
{
	struct online_row rows[32];
	lf_error err = {0};
	int n = store_online_aggregate(conn, app->cfg.model_name, app->cfg.online_window_s,
				       ONLINE_K, rows, 32, &err);
	if (n < 0)
		return;
	struct online_arm arms[ARM_COUNT] = {{0}};
	for (int a = 0; a < ARM_COUNT; a++) {
		struct snapshot *s = snapshot_current_arm((enum arm)a);
		arms[a].version = s ? s->version : 0;
		snapshot_release(s);
		for (int i = 0; i < n && arms[a].version; i++)
			if (rows[i].version == arms[a].version && rows[i].challenger == a) {
				arms[a].impressions = rows[i].impressions;
				arms[a].hits = rows[i].hits;
			}
	}
	prom_set_online(arms, app->cfg.online_window_s);
	/* drift: two scans of the catalogue's ratings, so every 6 polls at most, and at
	 * least once a minute */
	static double drift_at;
	if (now_seconds() >= drift_at) {
		struct drift_row d;
		if (store_drift(conn, app->cfg.online_window_s, &d, &err) == 0) {
			prom_set_drift(&d);
			drift_at = now_seconds() + (app->cfg.poll_s * 6 < 60 ? app->cfg.poll_s * 6 : 60);
		}
	}
}

static void *poll_main(void *arg)
{
	struct serve_app *app = arg;
	PGconn *conn = NULL;
	double expires = 0;
	int failing = 0, champion_failing = 0;
	pthread_mutex_lock(&app->poll_lock);
	while (!app->stopping) {
		pthread_mutex_unlock(&app->poll_lock);
		poll_once(app, &conn, &expires, &failing);
		if (conn && PQstatus(conn) == CONNECTION_OK)
			poll_online(app, conn);
		if (app->champion)
			poll_champion(app, &champion_failing);
		struct snapshot *s = snapshot_current();
		double wait = s ? app->cfg.poll_s : (app->cfg.poll_s < 1 ? app->cfg.poll_s : 1.0);
		snapshot_release(s);
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += (time_t)wait;
		until.tv_nsec += (long)((wait - (double)(time_t)wait) * 1e9);
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&app->poll_lock);
		while (!app->stopping &&
		       pthread_cond_timedwait(&app->poll_cond, &app->poll_lock, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&app->poll_lock);
	if (conn)
		PQfinish(conn);
	return NULL;
}

int poll_start(struct serve_app *app, lf_error *err)
{
	pthread_condattr_t ca;
	if (pthread_condattr_init(&ca) != 0 ||
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&app->poll_cond, &ca) != 0)
		return lf_fail(err, EX_OSERR, "cannot create the poll thread's condition");
	pthread_condattr_destroy(&ca);
	int e = pthread_create(&app->poller, NULL, poll_main, app);
	if (e != 0) {
		pthread_cond_destroy(&app->poll_cond);
		return lf_fail_errno(err, EX_OSERR, e, "cannot start the poll thread");
	}
	app->poller_started = 1;
	return 0;
}

void poll_stop(struct serve_app *app)
{
	if (!app->poller_started)
		return;
	pthread_mutex_lock(&app->poll_lock);
	app->stopping = 1;
	pthread_cond_signal(&app->poll_cond);
	pthread_mutex_unlock(&app->poll_lock);
	pthread_join(app->poller, NULL);
	pthread_cond_destroy(&app->poll_cond);
	app->poller_started = 0;
}
