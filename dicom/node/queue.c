/* queue.c - the forward queue's SQL (see queue.h). Writers use the node's
 * one writer connection under its mutex, so each function here is one
 * short transaction. */
#include "queue.h"

#include "index_int.h"
#include "nd.h"

#include <stdio.h>
#include <string.h>

int nd_queue_claim(nd_index *ix, const char *dest, int64_t now,
                   struct nd_qitem *items, int max)
{
    if (nd_sql_begin(ix) != SQLITE_OK)
        return nd_sql_fail(ix);
    /* a study in flight on another association waits: it goes in order */
    sqlite3_stmt *s =
        nd_sql(ix,
               "SELECT study FROM queue WHERE dest = ?1 AND state = 0"
               " GROUP BY study"
               " HAVING max(hold_until) <= ?2 AND min(next_try) <= ?2"
               "  AND study NOT IN (SELECT study FROM queue"
               "                    WHERE dest = ?1 AND state = 1)"
               " ORDER BY min(id) LIMIT 1",
               "tI", dest, now);
    if (!s)
        return nd_sql_fail(ix);
    int rc = sqlite3_step(s);
    int64_t study = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return nd_sql_fail(ix);
    int n = 0;
    if (study >= 0) {
        s = nd_sql(ix,
                   "SELECT q.id, q.attempts, i.size, i.path, i.sop_class,"
                   "  i.sop_uid, i.transfer_syntax, st.study_uid,"
                   "  p.patient_id"
                   " FROM queue q JOIN instances i ON i.id = q.instance"
                   " JOIN studies st ON st.id = q.study"
                   " JOIN patients p ON p.id = st.patient"
                   " WHERE q.dest = ?1 AND q.study = ?2 AND q.state = 0"
                   "  AND q.next_try <= ?3 ORDER BY q.id LIMIT ?4",
                   "tIIi", dest, study, now, max);
        if (!s)
            return nd_sql_fail(ix);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < max) {
            struct nd_qitem *it = &items[n++];
            it->id = sqlite3_column_int64(s, 0);
            it->attempts = sqlite3_column_int(s, 1);
            it->size = sqlite3_column_int64(s, 2);
            nd_sql_col_copy(s, 3, it->path, sizeof it->path);
            nd_sql_col_copy(s, 4, it->sop_class, sizeof it->sop_class);
            nd_sql_col_copy(s, 5, it->sop_uid, sizeof it->sop_uid);
            nd_sql_col_copy(s, 6, it->ts, sizeof it->ts);
            nd_sql_col_copy(s, 7, it->study_uid, sizeof it->study_uid);
            nd_sql_col_copy(s, 8, it->patient_id, sizeof it->patient_id);
        }
        sqlite3_finalize(s);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return nd_sql_fail(ix);
        for (int i = 0; i < n; i++)
            if (nd_sql_run(ix, NULL, "UPDATE queue SET state = 1 WHERE id = ?1",
                           "I", items[i].id) != SQLITE_OK)
                return nd_sql_fail(ix);
    }
    if (nd_sql_commit(ix) != SQLITE_OK)
        return nd_sql_fail(ix);
    return n;
}

int nd_queue_done(nd_index *ix, const char *dest, int64_t id, int64_t bytes,
                  int64_t raw_bytes, int64_t now)
{
    if (nd_sql_begin(ix) != SQLITE_OK ||
        nd_sql_run(ix, NULL, "DELETE FROM queue WHERE id = ?1", "I", id) !=
            SQLITE_OK ||
        nd_sql_run(ix, NULL,
                   "INSERT INTO forward_stats(dest, sent, bytes, raw_bytes,"
                   " last_ok) VALUES(?1, 1, ?2, ?3, ?4)"
                   " ON CONFLICT(dest) DO UPDATE SET"
                   " sent = sent + 1, bytes = bytes + ?2,"
                   " raw_bytes = raw_bytes + ?3, last_ok = ?4",
                   "tIII", dest, bytes, raw_bytes, now) != SQLITE_OK ||
        nd_sql_commit(ix) != SQLITE_OK)
        return nd_sql_fail(ix);
    return 0;
}

int nd_queue_fail(nd_index *ix, const char *dest, int64_t id, int dead,
                  int count, int64_t next_try, const char *err, int64_t now)
{
    if (nd_sql_begin(ix) != SQLITE_OK ||
        nd_sql_run(ix, NULL,
                   "UPDATE queue SET state = ?1, attempts = attempts + ?2,"
                   " next_try = ?3, last_error = ?4 WHERE id = ?5",
                   "iiItI", dead ? ND_Q_DEAD : ND_Q_PENDING, count ? 1 : 0,
                   next_try, err, id) != SQLITE_OK ||
        (count && nd_sql_run(ix, NULL,
                             "INSERT INTO forward_stats(dest, last_error,"
                             " last_error_at) VALUES(?1, ?2, ?3)"
                             " ON CONFLICT(dest) DO UPDATE SET"
                             " last_error = ?2, last_error_at = ?3",
                             "ttI", dest, err, now) != SQLITE_OK) ||
        nd_sql_commit(ix) != SQLITE_OK)
        return nd_sql_fail(ix);
    return 0;
}

int nd_queue_release(nd_index *ix, const char *dest,
                     const struct nd_qitem *items, int n, const char *err,
                     int64_t now)
{
    if (nd_sql_begin(ix) != SQLITE_OK)
        return nd_sql_fail(ix);
    for (int i = 0; i < n; i++)
        if (nd_sql_run(ix, NULL,
                       "UPDATE queue SET state = 0,"
                       " last_error = CASE ?1 WHEN '' THEN last_error"
                       "  ELSE ?1 END WHERE id = ?2",
                       "tI", err, items[i].id) != SQLITE_OK)
            return nd_sql_fail(ix);
    if (err && *err &&
        nd_sql_run(ix, NULL,
                   "INSERT INTO forward_stats(dest, last_error,"
                   " last_error_at) VALUES(?1, ?2, ?3)"
                   " ON CONFLICT(dest) DO UPDATE SET"
                   " last_error = ?2, last_error_at = ?3",
                   "ttI", dest, err, now) != SQLITE_OK)
        return nd_sql_fail(ix);
    if (nd_sql_commit(ix) != SQLITE_OK)
        return nd_sql_fail(ix);
    return 0;
}

int nd_queue_busy(nd_index *ix, const char *dest, int64_t ms)
{
    return nd_sql_run(ix, NULL,
                      "INSERT INTO forward_stats(dest, busy_ms) VALUES(?1, ?2)"
                      " ON CONFLICT(dest) DO UPDATE SET busy_ms = busy_ms + ?2",
                      "tI", dest, ms) == SQLITE_OK
               ? 0
               : nd_sql_fail(ix);
}

int nd_queue_recover(nd_index *ix)
{
    int n = 0;
    if (nd_sql_run(ix, &n, "UPDATE queue SET state = 0 WHERE state = 1",
                   NULL) != SQLITE_OK)
        return nd_sql_fail(ix);
    return n;
}

int nd_queue_stats(nd_index *ix, int64_t now,
                   int (*fn)(void *user, const struct nd_qstat *st), void *user)
{
    /* every destination with items or history */
    sqlite3_stmt *s =
        nd_sql(ix,
               "WITH d AS (SELECT dest FROM queue UNION"
               "           SELECT dest FROM forward_stats)"
               " SELECT d.dest,"
               "  (SELECT count(*) FROM queue q WHERE q.dest = d.dest"
               "    AND q.state = 0),"
               "  (SELECT count(*) FROM queue q WHERE q.dest = d.dest"
               "    AND q.state = 0 AND q.next_try <= ?1"
               "    AND q.hold_until <= ?1),"
               "  (SELECT count(*) FROM queue q WHERE q.dest = d.dest"
               "    AND q.state = 1),"
               "  (SELECT count(*) FROM queue q WHERE q.dest = d.dest"
               "    AND q.state = 3),"
               "  (SELECT min(created) FROM queue q WHERE q.dest = d.dest"
               "    AND q.state IN (0, 1)),"
               "  f.sent, f.bytes, f.raw_bytes, f.busy_ms, f.last_ok,"
               "  f.last_error_at, f.last_error"
               " FROM d LEFT JOIN forward_stats f ON f.dest = d.dest"
               " ORDER BY d.dest",
               "I", now);
    if (!s)
        return nd_sql_fail(ix);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct nd_qstat st;
        memset(&st, 0, sizeof st);
        nd_sql_col_copy(s, 0, st.dest, sizeof st.dest);
        st.pending = sqlite3_column_int64(s, 1);
        st.ready = sqlite3_column_int64(s, 2);
        st.inflight = sqlite3_column_int64(s, 3);
        st.dead = sqlite3_column_int64(s, 4);
        st.oldest = sqlite3_column_int64(s, 5);
        st.sent = sqlite3_column_int64(s, 6);
        st.bytes = sqlite3_column_int64(s, 7);
        st.raw_bytes = sqlite3_column_int64(s, 8);
        st.busy_ms = sqlite3_column_int64(s, 9);
        st.last_ok = sqlite3_column_int64(s, 10);
        st.last_error_at = sqlite3_column_int64(s, 11);
        nd_sql_col_copy(s, 12, st.last_error, sizeof st.last_error);
        if (fn(user, &st) != 0)
            break;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : nd_sql_fail(ix);
}

int nd_queue_list(nd_index *ix, const char *dest, int state,
                  int (*fn)(void *user, const struct nd_qentry *e), void *user)
{
    sqlite3_stmt *s =
        nd_sql(ix,
               "SELECT q.id, q.dest, q.state, q.attempts, q.next_try,"
               "  q.created, i.sop_uid, st.study_uid, q.last_error"
               " FROM queue q JOIN instances i ON i.id = q.instance"
               " JOIN studies st ON st.id = q.study"
               " WHERE (?1 = '' OR q.dest = ?1) AND (?2 < 0 OR q.state = ?2)"
               " ORDER BY q.id",
               "ti", dest, state);
    if (!s)
        return nd_sql_fail(ix);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct nd_qentry e;
        memset(&e, 0, sizeof e);
        e.id = sqlite3_column_int64(s, 0);
        nd_sql_col_copy(s, 1, e.dest, sizeof e.dest);
        e.state = sqlite3_column_int(s, 2);
        e.attempts = sqlite3_column_int(s, 3);
        e.next_try = sqlite3_column_int64(s, 4);
        e.created = sqlite3_column_int64(s, 5);
        nd_sql_col_copy(s, 6, e.sop_uid, sizeof e.sop_uid);
        nd_sql_col_copy(s, 7, e.study_uid, sizeof e.study_uid);
        nd_sql_col_copy(s, 8, e.last_error, sizeof e.last_error);
        if (fn(user, &e) != 0)
            break;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : nd_sql_fail(ix);
}

/* Without an id: the dead items (of dest, or all). With one: that item,
 * whatever its state but in flight (a forwarder owns those). */
#define OPERATOR_WHERE                                                         \
    " WHERE (?1 = '' OR dest = ?1) AND"                                        \
    " ((?2 = 0 AND state = 3) OR (?2 > 0 AND id = ?2 AND state <> 1))"

int nd_queue_retry(nd_index *ix, const char *dest, int64_t id, int64_t now)
{
    int n = 0;
    if (nd_sql_run(ix, &n,
                   "UPDATE queue SET state = 0, attempts = 0, next_try = ?3,"
                   " hold_until = min(hold_until, ?3)" OPERATOR_WHERE,
                   "tII", dest, id, now) != SQLITE_OK)
        return nd_sql_fail(ix);
    return n;
}

int nd_queue_drop(nd_index *ix, const char *dest, int64_t id)
{
    int n = 0;
    if (nd_sql_run(ix, &n, "DELETE FROM queue" OPERATOR_WHERE, "tI", dest,
                   id) != SQLITE_OK)
        return nd_sql_fail(ix);
    return n;
}
