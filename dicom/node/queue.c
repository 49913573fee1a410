/* queue.c - the forward queue's SQL (see queue.h). Writers use the node's
 * one writer connection under its mutex, so each function here is one
 * short transaction. */
#include "queue.h"

#include "index_int.h"
#include "nd.h"

#include <stdio.h>
#include <string.h>

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    sqlite3_bind_text(s, i, v ? v : "", -1, SQLITE_STATIC);
}

static void col_text(sqlite3_stmt *s, int i, char *out, size_t len)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    snprintf(out, len, "%s", t ? (const char *)t : "");
}

static int fail(nd_index *ix)
{
    sqlite3 *db = nd_index_db(ix);
    int code = sqlite3_errcode(db);
    nd_index_set_err(ix, sqlite3_errmsg(db));
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return code == SQLITE_FULL || code == SQLITE_IOERR ? ND_EFULL
                                                       : ND_EINDEX;
}

static int prep(nd_index *ix, const char *sql, sqlite3_stmt **s)
{
    return sqlite3_prepare_v2(nd_index_db(ix), sql, -1, s, NULL);
}

/* Runs sql with binds (text dest at ?1 unless NULL, then the integers). */
static int run(nd_index *ix, const char *sql, const char *text,
               const int64_t *ints, int n_ints, int *changes)
{
    sqlite3_stmt *s;
    if (prep(ix, sql, &s) != SQLITE_OK)
        return SQLITE_ERROR;
    int k = 1;
    if (text)
        bind_text(s, k++, text);
    for (int i = 0; i < n_ints; i++)
        sqlite3_bind_int64(s, k++, ints[i]);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (changes)
        *changes = sqlite3_changes(nd_index_db(ix));
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int nd_queue_claim(nd_index *ix, const char *dest, int64_t now,
                   struct nd_qitem *items, int max)
{
    sqlite3 *db = nd_index_db(ix);
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return fail(ix);
    /* a study in flight on another association waits: it goes in order */
    sqlite3_stmt *s;
    if (prep(ix,
             "SELECT study FROM queue WHERE dest = ?1 AND state = 0"
             " GROUP BY study"
             " HAVING max(hold_until) <= ?2 AND min(next_try) <= ?2"
             "  AND study NOT IN (SELECT study FROM queue"
             "                    WHERE dest = ?1 AND state = 1)"
             " ORDER BY min(id) LIMIT 1",
             &s) != SQLITE_OK)
        return fail(ix);
    bind_text(s, 1, dest);
    sqlite3_bind_int64(s, 2, now);
    int rc = sqlite3_step(s);
    int64_t study = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(ix);
    int n = 0;
    if (study >= 0) {
        if (prep(ix,
                 "SELECT q.id, q.attempts, i.size, i.path, i.sop_class,"
                 "  i.sop_uid, i.transfer_syntax, st.study_uid, p.patient_id"
                 " FROM queue q JOIN instances i ON i.id = q.instance"
                 " JOIN studies st ON st.id = q.study"
                 " JOIN patients p ON p.id = st.patient"
                 " WHERE q.dest = ?1 AND q.study = ?2 AND q.state = 0"
                 "  AND q.next_try <= ?3 ORDER BY q.id LIMIT ?4",
                 &s) != SQLITE_OK)
            return fail(ix);
        bind_text(s, 1, dest);
        sqlite3_bind_int64(s, 2, study);
        sqlite3_bind_int64(s, 3, now);
        sqlite3_bind_int(s, 4, max);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < max) {
            struct nd_qitem *it = &items[n++];
            it->id = sqlite3_column_int64(s, 0);
            it->attempts = sqlite3_column_int(s, 1);
            it->size = sqlite3_column_int64(s, 2);
            col_text(s, 3, it->path, sizeof it->path);
            col_text(s, 4, it->sop_class, sizeof it->sop_class);
            col_text(s, 5, it->sop_uid, sizeof it->sop_uid);
            col_text(s, 6, it->ts, sizeof it->ts);
            col_text(s, 7, it->study_uid, sizeof it->study_uid);
            col_text(s, 8, it->patient_id, sizeof it->patient_id);
        }
        sqlite3_finalize(s);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return fail(ix);
        for (int i = 0; i < n; i++) {
            int64_t id = items[i].id;
            if (run(ix, "UPDATE queue SET state = 1 WHERE id = ?1", NULL,
                     &id, 1, NULL) != SQLITE_OK)
                return fail(ix);
        }
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return fail(ix);
    return n;
}

int nd_queue_done(nd_index *ix, const char *dest, int64_t id, int64_t bytes,
                  int64_t raw_bytes, int64_t now)
{
    sqlite3 *db = nd_index_db(ix);
    int64_t v[3] = {bytes, raw_bytes, now};
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
        run(ix, "DELETE FROM queue WHERE id = ?1", NULL, &id, 1, NULL) !=
            SQLITE_OK ||
        run(ix,
            "INSERT INTO forward_stats(dest, sent, bytes, raw_bytes, last_ok)"
            " VALUES(?1, 1, ?2, ?3, ?4) ON CONFLICT(dest) DO UPDATE SET"
            " sent = sent + 1, bytes = bytes + ?2,"
            " raw_bytes = raw_bytes + ?3, last_ok = ?4",
            dest, v, 3, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return fail(ix);
    return 0;
}

int nd_queue_fail(nd_index *ix, const char *dest, int64_t id, int dead,
                  int count, int64_t next_try, const char *err, int64_t now)
{
    sqlite3 *db = nd_index_db(ix);
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return fail(ix);
    sqlite3_stmt *s;
    if (prep(ix,
             "UPDATE queue SET state = ?1, attempts = attempts + ?2,"
             " next_try = ?3, last_error = ?4 WHERE id = ?5",
             &s) != SQLITE_OK)
        return fail(ix);
    sqlite3_bind_int(s, 1, dead ? ND_Q_DEAD : ND_Q_PENDING);
    sqlite3_bind_int(s, 2, count ? 1 : 0);
    sqlite3_bind_int64(s, 3, next_try);
    bind_text(s, 4, err);
    sqlite3_bind_int64(s, 5, id);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return fail(ix);
    if (count) {
        if (prep(ix,
                 "INSERT INTO forward_stats(dest, last_error, last_error_at)"
                 " VALUES(?1, ?2, ?3) ON CONFLICT(dest) DO UPDATE SET"
                 " last_error = ?2, last_error_at = ?3",
                 &s) != SQLITE_OK)
            return fail(ix);
        bind_text(s, 1, dest);
        bind_text(s, 2, err);
        sqlite3_bind_int64(s, 3, now);
        rc = sqlite3_step(s);
        sqlite3_finalize(s);
        if (rc != SQLITE_DONE)
            return fail(ix);
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return fail(ix);
    return 0;
}

int nd_queue_busy(nd_index *ix, const char *dest, int64_t ms)
{
    return run(ix,
               "INSERT INTO forward_stats(dest, busy_ms) VALUES(?1, ?2)"
               " ON CONFLICT(dest) DO UPDATE SET busy_ms = busy_ms + ?2",
               dest, &ms, 1, NULL) == SQLITE_OK
               ? 0
               : fail(ix);
}

int nd_queue_recover(nd_index *ix)
{
    int n = 0;
    if (run(ix, "UPDATE queue SET state = 0 WHERE state = 1", NULL, NULL, 0,
            &n) != SQLITE_OK)
        return fail(ix);
    return n;
}

int nd_queue_stats(nd_index *ix, int64_t now,
                   int (*fn)(void *user, const struct nd_qstat *st),
                   void *user)
{
    sqlite3_stmt *s;
    /* every destination with items or history */
    if (prep(ix,
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
             &s) != SQLITE_OK)
        return fail(ix);
    sqlite3_bind_int64(s, 1, now);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct nd_qstat st;
        memset(&st, 0, sizeof st);
        col_text(s, 0, st.dest, sizeof st.dest);
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
        col_text(s, 12, st.last_error, sizeof st.last_error);
        if (fn(user, &st) != 0)
            break;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(ix);
}

int nd_queue_list(nd_index *ix, const char *dest, int state,
                  int (*fn)(void *user, const struct nd_qentry *e),
                  void *user)
{
    sqlite3_stmt *s;
    if (prep(ix,
             "SELECT q.id, q.dest, q.state, q.attempts, q.next_try,"
             "  q.created, i.sop_uid, st.study_uid, q.last_error"
             " FROM queue q JOIN instances i ON i.id = q.instance"
             " JOIN studies st ON st.id = q.study"
             " WHERE (?1 = '' OR q.dest = ?1) AND (?2 < 0 OR q.state = ?2)"
             " ORDER BY q.id",
             &s) != SQLITE_OK)
        return fail(ix);
    bind_text(s, 1, dest);
    sqlite3_bind_int(s, 2, state);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct nd_qentry e;
        memset(&e, 0, sizeof e);
        e.id = sqlite3_column_int64(s, 0);
        col_text(s, 1, e.dest, sizeof e.dest);
        e.state = sqlite3_column_int(s, 2);
        e.attempts = sqlite3_column_int(s, 3);
        e.next_try = sqlite3_column_int64(s, 4);
        e.created = sqlite3_column_int64(s, 5);
        col_text(s, 6, e.sop_uid, sizeof e.sop_uid);
        col_text(s, 7, e.study_uid, sizeof e.study_uid);
        col_text(s, 8, e.last_error, sizeof e.last_error);
        if (fn(user, &e) != 0)
            break;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(ix);
}

/* Without an id: the dead items (of dest, or all). With one: that item,
 * whatever its state but in flight (a forwarder owns those). */
#define OPERATOR_WHERE                                                      \
    " WHERE (?1 = '' OR dest = ?1) AND"                                     \
    " ((?2 = 0 AND state = 3) OR (?2 > 0 AND id = ?2 AND state <> 1))"

int nd_queue_retry(nd_index *ix, const char *dest, int64_t id, int64_t now)
{
    int64_t v[2] = {id, now};
    int n = 0;
    if (run(ix,
            "UPDATE queue SET state = 0, attempts = 0, next_try = ?3,"
            " hold_until = min(hold_until, ?3)" OPERATOR_WHERE,
            dest ? dest : "", v, 2, &n) != SQLITE_OK)
        return fail(ix);
    return n;
}

int nd_queue_drop(nd_index *ix, const char *dest, int64_t id)
{
    int n = 0;
    if (run(ix, "DELETE FROM queue" OPERATOR_WHERE, dest ? dest : "", &id, 1,
            &n) != SQLITE_OK)
        return fail(ix);
    return n;
}
