/*
 * store_replica.h — what a server says about replication: whether it is a
 * standby, and how far behind the primary its replay is.
 *
 * The lag is 0 on a primary, and 0 on a standby that has replayed all the
 * WAL it received (an idle primary sends nothing, so "now minus the last
 * replayed commit" alone would grow without bound); otherwise now minus the
 * commit time of the last transaction it replayed
 * (pg_last_xact_replay_timestamp()), 0 when it has replayed none yet.
 *
 * Ownership: nothing is kept; c is the caller's.
 */
#ifndef LENSFLOW_STORE_REPLICA_H
#define LENSFLOW_STORE_REPLICA_H

#include <libpq-fe.h>

#include "log.h"

/* *standby = 1 on a hot standby, 0 on a primary; *lag_s as above. 0, or -1
 * with err (EX_UNAVAILABLE when the server did not answer). */
int store_replica_state(PGconn *c, int *standby, double *lag_s, lf_error *err);

#endif
