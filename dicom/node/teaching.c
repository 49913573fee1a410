/* teaching.c - the teaching queue and the de-identification map (see
 * teaching.h). Each lookup-or-create is one short IMMEDIATE transaction,
 * so an export beside a running node never holds the index's write lock
 * for long (the node's C-STOREs wait on it). */
#define _GNU_SOURCE
#include "teaching.h"

#include "index_int.h"
#include "nd.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static int random_bytes(void *buf, size_t n)
{
    return getrandom(buf, n, 0) == (ssize_t)n ? 0 : -1;
}

/* The pseudonym and date shift in the row of s (column 0, 1). */
static void patient_row(sqlite3_stmt *s, struct nd_teach_patient *out)
{
    nd_sql_col_copy(s, 0, out->pseudonym, sizeof out->pseudonym);
    out->date_shift = sqlite3_column_int(s, 1);
}

void nd_teach_person(const char *name, const char *birth, const char *sex,
                     char *out, size_t len)
{
    snprintf(out, len, "%s|%s|%s", name ? name : "", birth ? birth : "",
             sex ? sex : "");
}

int nd_teach_patient(nd_index *ix, const char *patient_id, const char *issuer,
                     const char *person, struct nd_teach_patient *out)
{
    if (nd_sql_begin(ix) != SQLITE_OK)
        return nd_sql_fail(ix);
    /* this person's row; else a row from before persons were told apart
     * (schema 7), which the first of them takes over */
    static const char *const find[] = {
        "SELECT pseudonym, date_shift FROM deid_patients"
        " WHERE patient_id = ?1 AND issuer = ?2 AND person = ?3",
        "UPDATE deid_patients SET person = ?3"
        " WHERE patient_id = ?1 AND issuer = ?2 AND person = ''"
        " RETURNING pseudonym, date_shift"};
    int rc = SQLITE_DONE;
    for (int k = 0; k < 2 && rc == SQLITE_DONE; k++) {
        sqlite3_stmt *s = nd_sql(ix, find[k], "ttt", patient_id, issuer,
                                 person);
        if (!s)
            return nd_sql_fail(ix);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            patient_row(s, out);
        sqlite3_finalize(s);
    }
    if (rc == SQLITE_ROW)
        return nd_sql_commit(ix) == SQLITE_OK ? 0 : nd_sql_fail(ix);
    if (rc != SQLITE_DONE)
        return nd_sql_fail(ix);
    uint32_t r;
    if (random_bytes(&r, sizeof r) < 0) {
        sqlite3_exec(nd_index_db(ix), "ROLLBACK", NULL, NULL, NULL);
        nd_index_set_err(ix, "no random numbers");
        return ND_EINDEX;
    }
    /* sequential pseudonyms: one more than there are (under the write
     * lock, so two exports cannot take the same) */
    sqlite3_stmt *s = nd_sql(
        ix,
        "INSERT INTO deid_patients(patient_id, issuer, person,"
        " pseudonym, date_shift, created)"
        " SELECT ?1, ?2, ?3, printf('TF%06d', count(*) + 1),"
        " ?4, ?5 FROM deid_patients"
        " RETURNING pseudonym, date_shift",
        "tttiI", patient_id, issuer, person, -(3650 + (int)(r % 3651)),
        (int64_t)time(NULL));
    if (!s)
        return nd_sql_fail(ix);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        patient_row(s, out);
        rc = sqlite3_step(s);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE || nd_sql_commit(ix) != SQLITE_OK)
        return nd_sql_fail(ix);
    return 0;
}

/* 2.25. and a random 128-bit number in decimal (PS3.5 B.2: a UUID
 * turned into a UID): unique without an organisation root, and it says
 * nothing about where it was made. */
static int new_uid(char out[65])
{
    unsigned char b[16];
    if (random_bytes(b, sizeof b) < 0)
        return -1;
    b[6] = (b[6] & 0x0F) | 0x40; /* version 4 */
    b[8] = (b[8] & 0x3F) | 0x80; /* variant 1 */
    unsigned __int128 v = 0;
    for (int i = 0; i < 16; i++)
        v = v << 8 | b[i];
    char digits[48];
    int n = 0;
    do {
        digits[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    int k = snprintf(out, 65, "2.25.");
    while (n)
        out[k++] = digits[--n];
    out[k] = '\0';
    return 0;
}

int nd_teach_uid(nd_index *ix, const char *original, char out[65])
{
    /* the common case, a UID already mapped, needs no write lock */
    sqlite3_stmt *s =
        nd_sql(ix, "SELECT replacement FROM deid_uids WHERE original = ?1", "t",
               original);
    if (!s)
        return nd_sql_err(ix);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        nd_sql_col_copy(s, 0, out, 65);
    sqlite3_finalize(s);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc != SQLITE_DONE)
        return nd_sql_err(ix);
    char uid[65];
    if (new_uid(uid) < 0) {
        nd_index_set_err(ix, "no random numbers");
        return ND_EINDEX;
    }
    /* another export may have mapped it meanwhile: keep the first */
    s = nd_sql(ix,
               "INSERT INTO deid_uids(original, replacement)"
               " VALUES(?1, ?2) ON CONFLICT(original) DO UPDATE"
               " SET original = original RETURNING replacement",
               "tt", original, uid);
    if (!s)
        return nd_sql_err(ix);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        nd_sql_col_copy(s, 0, out, 65);
        rc = sqlite3_step(s);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : nd_sql_err(ix);
}

int nd_teach_list(nd_index *ix, enum nd_teach_which which, int min_age,
                  int (*fn)(void *user, const struct nd_teach_row *r),
                  void *user)
{
    /* instances.received is ISO 8601 UTC text, so it compares as text */
    char cutoff[32];
    time_t t = time(NULL) - min_age;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(cutoff, sizeof cutoff, "%Y-%m-%dT%H:%M:%SZ", &tm);
    sqlite3_stmt *s = nd_sql(ix,
                             "SELECT t.study_uid, t.marked, t.marked_by,"
                             " t.exported, t.export_dir FROM teaching t"
                             " WHERE ?1 = 0 OR ((t.exported = 0 OR"
                             "  (?1 = 2 AND t.exported < 0)) AND"
                             "  (SELECT max(i.received) FROM instances i"
                             "   JOIN series se ON i.series = se.id"
                             "   JOIN studies st ON se.study = st.id"
                             "   WHERE st.study_uid = t.study_uid) <= ?2)"
                             " ORDER BY t.marked",
                             "it", (int)which, cutoff);
    if (!s)
        return nd_sql_err(ix);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct nd_teach_row r = {(const char *)sqlite3_column_text(s, 0),
                                 (const char *)sqlite3_column_text(s, 2),
                                 (const char *)sqlite3_column_text(s, 4),
                                 sqlite3_column_int64(s, 1),
                                 sqlite3_column_int64(s, 3)};
        int u = fn(user, &r);
        if (u) {
            sqlite3_finalize(s);
            return u;
        }
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : nd_sql_err(ix);
}

int nd_teach_done(nd_index *ix, const char *study_uid, const char *dir,
                  int refused)
{
    return nd_sql_run(ix, NULL,
                      "INSERT INTO teaching(study_uid, marked, exported,"
                      " export_dir) VALUES(?1, ?2, ?2, ?3)"
                      " ON CONFLICT(study_uid) DO UPDATE SET"
                      " exported = ?2, export_dir = ?3",
                      "tIt", study_uid,
                      (refused ? -1 : 1) * (int64_t)time(NULL),
                      dir) == SQLITE_OK
               ? 0
               : nd_sql_err(ix);
}
