/* queue.h - the forward queue: rows in the index database (DESIGN.md rule
 * 4), an item per (instance, destination), created in the instance's own
 * index transaction (index.h, nd_index_set_router) and deleted only after
 * the destination returned success. States: pending, in flight (claimed by
 * a forwarder; back to pending at start-up), dead (failed too often; an
 * operator retries or drops it). All of it is SQL in queue.c. */
#ifndef ND_QUEUE_H
#define ND_QUEUE_H

#include <stdint.h>

#include "index.h"

enum nd_qstate { ND_Q_PENDING = 0, ND_Q_INFLIGHT = 1, ND_Q_DEAD = 3 };

/* One item handed to a forwarder. */
struct nd_qitem {
    int64_t id;
    int attempts;
    int64_t size;
    char path[200]; /* relative to the storage folder */
    char sop_class[65], sop_uid[65], ts[65];
    char study_uid[65], patient_id[65]; /* for the audit trail */
};

/* Claims the oldest study ready for dest (stable since its hold time, not
 * backing off, none of it in flight elsewhere): up to max of its pending
 * items, in arrival order, become in flight. Returns how many, or <0. */
int nd_queue_claim(nd_index *ix, const char *dest, int64_t now,
                   struct nd_qitem *items, int max);

/* The peer returned success: the item leaves the queue; totals grow. */
int nd_queue_done(nd_index *ix, const char *dest, int64_t id, int64_t bytes,
                  int64_t raw_bytes, int64_t now);

/* Back to pending until next_try (or dead), with the reason; counts an
 * attempt when count is set (not when the node itself stopped). */
int nd_queue_fail(nd_index *ix, const char *dest, int64_t id, int dead,
                  int count, int64_t next_try, const char *err, int64_t now);

/* Claimed items not attempted (the destination could not be reached, or
 * the node is stopping) go back to pending as they were: no attempt
 * counted, next_try unchanged. err, when not NULL, becomes their last
 * error and dest's. */
int nd_queue_release(nd_index *ix, const char *dest,
                     const struct nd_qitem *items, int n, const char *err,
                     int64_t now);

/* Adds association time to dest's totals (for its effective rate). */
int nd_queue_busy(nd_index *ix, const char *dest, int64_t ms);

/* Start-up: items left in flight by a crash are pending again. Returns
 * how many, or <0. */
int nd_queue_recover(nd_index *ix);

/* Per destination, for `consort-node queue` and the status line. */
struct nd_qstat {
    char dest[17];
    int64_t pending, ready, inflight, dead;
    int64_t oldest;  /* created, unix s, of the oldest pending item; 0 */
    int64_t sent, bytes, raw_bytes, busy_ms, last_ok, last_error_at;
    char last_error[256];
};
int nd_queue_stats(nd_index *ix, int64_t now,
                   int (*fn)(void *user, const struct nd_qstat *st),
                   void *user);

/* Items of dest (NULL: all) in state (-1: any) for `queue list`. */
struct nd_qentry {
    int64_t id;
    char dest[17];
    int state, attempts;
    int64_t next_try, created;
    char sop_uid[65], study_uid[65], last_error[256];
};
int nd_queue_list(nd_index *ix, const char *dest, int state,
                  int (*fn)(void *user, const struct nd_qentry *e),
                  void *user);

/* Operator actions on dead items, or one item by id (id > 0), optionally
 * of one destination: retry makes them pending now with no attempts,
 * drop deletes them. Return how many, or <0. */
int nd_queue_retry(nd_index *ix, const char *dest, int64_t id, int64_t now);
int nd_queue_drop(nd_index *ix, const char *dest, int64_t id);

#endif
