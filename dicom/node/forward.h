/* forward.h - store-and-forward inside `serve`: the routing rules that
 * decide, in each instance's index transaction, which peers get it
 * (nd_forward_route, the index's router), and the forwarder threads that
 * drain the queue (queue.h): per destination, a configurable number of
 * associations, each sending one study at a time in arrival order,
 * losslessly compressed where the peer accepts it, with retries: a peer
 * that cannot be reached backs off as a whole, an instance it refuses
 * backs off (and goes dead) on its own. */
#ifndef ND_FORWARD_H
#define ND_FORWARD_H

#include <pthread.h>

#include "archive.h"
#include "config.h"
#include "index.h"

/* The peers cfg's rules send r to (study_origin: the peer its study came
 * from, or ""), at most max into out; their count. Configured peers
 * only. */
int nd_forward_plan(const struct nd_config *cfg,
                    const struct nd_instance_rec *r, const char *study_origin,
                    struct nd_route_dest *out, int max);

/* The index router (nd_router_fn) of a command beside the node (import,
 * conflicts accept): nd_forward_plan, user the struct nd_config; the
 * running node's forwarders find the queue items at their next look. */
int nd_forward_plan_route(void *user, const struct nd_instance_rec *r,
                          const char *study_origin,
                          struct nd_route_dest *out, int max);

/* The index router (nd_router_fn) of the running node: nd_forward_plan,
 * and the forwarders of those peers woken; user is the nd_forward. */
int nd_forward_route(void *user, const struct nd_instance_rec *r,
                     const char *study_origin, struct nd_route_dest *out,
                     int max);

/* 1 if ae is a configured peer's AE title. */
int nd_forward_is_peer(const struct nd_config *cfg, const char *ae);

typedef struct nd_forward nd_forward;

/* Starts the forwarders of every peer some rule sends to. They use the
 * node's writer connection under its mutex and record each study sent in
 * the audit trail (may be NULL). NULL (and 0) when no rule
 * forwards anywhere. */
struct nd_audit;
int nd_forward_start(const struct nd_config *cfg, nd_archive *ar,
                     nd_index *writer, pthread_mutex_t *writer_mutex,
                     struct nd_audit *audit, nd_forward **out);

/* New items were queued: wake idle forwarders. NULL is a no-op. */
void nd_forward_kick(nd_forward *f);

/* Logs one status line per destination with work outstanding. */
void nd_forward_status(nd_forward *f);

/* Stops the forwarders (an item being sent is finished or put back) and
 * frees f. NULL is a no-op. */
void nd_forward_stop(nd_forward *f);

#endif
