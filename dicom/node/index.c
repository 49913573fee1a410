/* index.c - all SQL of the node: schema and migrations, instance insert,
 * listing, maintenance. See index.h. */
#define _GNU_SOURCE
#include "index.h"
#include "index_int.h"

#include "nd.h"
#include "record.h"

#include "dcx/dcx.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* migrations[i] takes the schema from version i to i + 1; never edit a
 * released step, append one. */
static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE patients("
    "  id INTEGER PRIMARY KEY,"
    "  patient_id TEXT NOT NULL,"
    "  issuer TEXT NOT NULL DEFAULT '',"
    "  name TEXT NOT NULL DEFAULT '',"
    "  birth_date TEXT NOT NULL DEFAULT '',"
    "  sex TEXT NOT NULL DEFAULT '',"
    "  UNIQUE(patient_id, issuer));"
    "CREATE TABLE studies("
    "  id INTEGER PRIMARY KEY,"
    "  patient INTEGER NOT NULL REFERENCES patients(id),"
    "  study_uid TEXT NOT NULL UNIQUE,"
    "  study_date TEXT NOT NULL DEFAULT '',"
    "  study_time TEXT NOT NULL DEFAULT '',"
    "  accession TEXT NOT NULL DEFAULT '',"
    "  study_id TEXT NOT NULL DEFAULT '',"
    "  description TEXT NOT NULL DEFAULT '',"
    "  referring TEXT NOT NULL DEFAULT '',"
    "  updated TEXT NOT NULL);"
    "CREATE INDEX studies_patient ON studies(patient);"
    "CREATE INDEX studies_date ON studies(study_date);"
    "CREATE INDEX studies_accession ON studies(accession);"
    "CREATE TABLE series("
    "  id INTEGER PRIMARY KEY,"
    "  study INTEGER NOT NULL REFERENCES studies(id),"
    "  series_uid TEXT NOT NULL UNIQUE,"
    "  modality TEXT NOT NULL DEFAULT '',"
    "  series_number INTEGER,"
    "  description TEXT NOT NULL DEFAULT '',"
    "  body_part TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX series_study ON series(study);"
    "CREATE TABLE instances("
    "  id INTEGER PRIMARY KEY,"
    "  series INTEGER NOT NULL REFERENCES series(id),"
    "  sop_uid TEXT NOT NULL UNIQUE,"
    "  sop_class TEXT NOT NULL,"
    "  instance_number INTEGER,"
    "  transfer_syntax TEXT NOT NULL,"
    "  rows INTEGER, columns INTEGER, frames INTEGER,"
    "  path TEXT NOT NULL UNIQUE,"
    "  size INTEGER NOT NULL,"
    "  received TEXT NOT NULL,"
    "  calling_ae TEXT NOT NULL DEFAULT '',"
    "  charset TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX instances_series ON instances(series);",
    /* 1 -> 2: patient name wildcards ("WANG*", case-insensitive LIKE)
     * become an index range instead of a scan */
    "CREATE INDEX patients_name ON patients(name COLLATE NOCASE);",
    /* 2 -> 3: no UNIQUE index on path. Paths are hashes, so every insert
     * touched a random page of that index: a third of the WAL written per
     * instance. A path is a function of the SOP Instance UID, which stays
     * unique; re-indexing looks files up by that UID instead. */
    "CREATE TABLE instances_v3("
    "  id INTEGER PRIMARY KEY,"
    "  series INTEGER NOT NULL REFERENCES series(id),"
    "  sop_uid TEXT NOT NULL UNIQUE,"
    "  sop_class TEXT NOT NULL,"
    "  instance_number INTEGER,"
    "  transfer_syntax TEXT NOT NULL,"
    "  rows INTEGER, columns INTEGER, frames INTEGER,"
    "  path TEXT NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  received TEXT NOT NULL,"
    "  calling_ae TEXT NOT NULL DEFAULT '',"
    "  charset TEXT NOT NULL DEFAULT '');"
    "INSERT INTO instances_v3 SELECT id, series, sop_uid, sop_class,"
    "  instance_number, transfer_syntax, rows, columns, frames, path, size,"
    "  received, calling_ae, charset FROM instances;"
    "DROP TABLE instances;"
    "ALTER TABLE instances_v3 RENAME TO instances;"
    "CREATE INDEX instances_series ON instances(series);",
    /* 3 -> 4: forwarding. A study remembers the peer it came from (for
     * "back to origin"); the queue has an item per (instance,
     * destination), deleted once the peer returned success; per
     * destination totals for the operator. */
    "ALTER TABLE studies ADD COLUMN origin_ae TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE queue("
    "  id INTEGER PRIMARY KEY,"
    "  instance INTEGER NOT NULL,"
    "  study INTEGER NOT NULL,"
    "  dest TEXT NOT NULL,"
    "  state INTEGER NOT NULL DEFAULT 0," /* 0 pending, 1 in flight, 3 dead */
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_try INTEGER NOT NULL,"   /* unix s: backoff */
    "  hold_until INTEGER NOT NULL," /* unix s: the study must be stable */
    "  last_error TEXT NOT NULL DEFAULT '',"
    "  created INTEGER NOT NULL,"
    "  UNIQUE(instance, dest));"
    "CREATE INDEX queue_dest ON queue(dest, state, study);"
    "CREATE TABLE forward_stats("
    "  dest TEXT PRIMARY KEY,"
    "  sent INTEGER NOT NULL DEFAULT 0,"
    "  bytes INTEGER NOT NULL DEFAULT 0,"     /* on the wire */
    "  raw_bytes INTEGER NOT NULL DEFAULT 0," /* as stored */
    "  busy_ms INTEGER NOT NULL DEFAULT 0,"   /* associations open */
    "  last_ok INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT NOT NULL DEFAULT '',"
    "  last_error_at INTEGER NOT NULL DEFAULT 0);",
    /* 4 -> 5: the teaching export. Studies a key object "For Teaching File
     * Export" marked; the pseudonym and date shift of each exported
     * patient and the new UID of each exported original, so that every
     * export of a patient agrees with the last (they stay at this node
     * only: they undo the de-identification). */
    "CREATE TABLE teaching("
    "  study_uid TEXT PRIMARY KEY,"
    "  marked INTEGER NOT NULL,"        /* unix s */
    "  marked_by TEXT NOT NULL DEFAULT ''," /* the calling AE */
    "  exported INTEGER NOT NULL DEFAULT 0,"
    "  export_dir TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE deid_patients("
    "  patient_id TEXT NOT NULL,"
    "  issuer TEXT NOT NULL,"
    "  pseudonym TEXT NOT NULL UNIQUE,"
    "  date_shift INTEGER NOT NULL,"   /* days */
    "  created INTEGER NOT NULL,"
    "  PRIMARY KEY(patient_id, issuer));"
    "CREATE TABLE deid_uids("
    "  original TEXT PRIMARY KEY,"
    "  replacement TEXT NOT NULL UNIQUE) WITHOUT ROWID;",
    /* 5 -> 6: a patient is its ID and issuer *and* its demographics. Keyed
     * by ID and issuer alone, the first study's name answered for every
     * later study with that ID: county sites number patients on their
     * own and seldom send an issuer, so two people shared one name, and
     * every patient without an ID shared one. Studies indexed before are
     * given back their own patient from their files (split_patients). */
    "CREATE TABLE patients_v6("
    "  id INTEGER PRIMARY KEY,"
    "  patient_id TEXT NOT NULL,"
    "  issuer TEXT NOT NULL DEFAULT '',"
    "  name TEXT NOT NULL DEFAULT '',"
    "  birth_date TEXT NOT NULL DEFAULT '',"
    "  sex TEXT NOT NULL DEFAULT '',"
    "  UNIQUE(patient_id, issuer, name, birth_date, sex));"
    "INSERT INTO patients_v6 SELECT id, patient_id, issuer, name, birth_date,"
    "  sex FROM patients;"
    "DROP TABLE patients;"
    "ALTER TABLE patients_v6 RENAME TO patients;"
    "CREATE INDEX patients_name ON patients(name COLLATE NOCASE);",
    /* 6 -> 7: a Person Name query matches component groups (pn_sql), not
     * the whole "Zhang^San=张^三", so "张*" needs the ideographic group
     * indexed. The groups are virtual generated columns: computed from
     * name, stored only in their indexes, so no insert writes them (nor
     * split_patients, which runs at 5 -> 6 before they exist) and the rows
     * of an older index need no update. The alphabetic group's index
     * replaces the whole name's: "WANG*" ranges over it. A later step that
     * rebuilds patients must name its columns: a generated column takes no
     * value. */
    "ALTER TABLE patients ADD COLUMN name_alpha TEXT GENERATED ALWAYS AS"
    "  (substr(name, 1, instr(name || '=', '=') - 1)) VIRTUAL;"
    "ALTER TABLE patients ADD COLUMN name_ideo TEXT GENERATED ALWAYS AS"
    "  (substr(substr(name, instr(name || '=', '=') + 1), 1,"
    "   instr(substr(name, instr(name || '=', '=') + 1) || '=', '=') - 1))"
    "  VIRTUAL;"
    "ALTER TABLE patients ADD COLUMN name_phon TEXT GENERATED ALWAYS AS"
    "  (substr(substr(name, instr(name || '=', '=') + 1),"
    "   instr(substr(name, instr(name || '=', '=') + 1) || '=', '=') + 1))"
    "  VIRTUAL;"
    "CREATE INDEX patients_name_alpha ON patients(name_alpha COLLATE NOCASE);"
    "CREATE INDEX patients_name_ideo ON patients(name_ideo COLLATE NOCASE);"
    "CREATE INDEX patients_name_phon ON patients(name_phon COLLATE NOCASE);"
    "DROP INDEX patients_name;",
    /* 7 -> 8: a pseudonym per person, not per Patient ID: two people
     * under one ID (schema 6) were one teaching patient. person is the
     * patient's name, birth date and sex as the patients table has them;
     * a row from before ('') is claimed by the first export of its ID
     * (nd_teach_patient), so earlier exports still agree with later ones. */
    "CREATE TABLE deid_patients_v8("
    "  patient_id TEXT NOT NULL,"
    "  issuer TEXT NOT NULL,"
    "  person TEXT NOT NULL DEFAULT '',"
    "  pseudonym TEXT NOT NULL UNIQUE,"
    "  date_shift INTEGER NOT NULL,"
    "  created INTEGER NOT NULL,"
    "  PRIMARY KEY(patient_id, issuer, person));"
    "INSERT INTO deid_patients_v8(patient_id, issuer, pseudonym, date_shift,"
    "  created) SELECT patient_id, issuer, pseudonym, date_shift, created"
    "  FROM deid_patients;"
    "DROP TABLE deid_patients;"
    "ALTER TABLE deid_patients_v8 RENAME TO deid_patients;",
};

enum {
    S_PATIENT_GET,
    S_PATIENT_INS,
    S_STUDY_GET,
    S_STUDY_INS,
    S_SERIES_GET,
    S_SERIES_INS,
    S_INSTANCE,
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_QUEUE_INS,
    S_TEACHING_INS,
    S_COUNT
};

/* Patient, study and series rows are written once, by the first instance
 * that names them; later instances only look them up (and usually not
 * even that: see the cache in struct nd_index). Each write is pages in
 * the WAL, so an instance costs its own row and index entries only. */
static const char *const stmt_sql[S_COUNT] = {
    [S_PATIENT_GET] =
        "SELECT id FROM patients WHERE patient_id = ?1 AND issuer = ?2"
        " AND name = ?3 AND birth_date = ?4 AND sex = ?5",
    [S_PATIENT_INS] =
        "INSERT INTO patients(patient_id, issuer, name, birth_date, sex)"
        " VALUES(?1, ?5, ?2, ?3, ?4)",
    [S_STUDY_GET] = "SELECT id, origin_ae FROM studies WHERE study_uid = ?1",
    [S_STUDY_INS] =
        "INSERT INTO studies(patient, study_uid, study_date, study_time,"
        "  accession, study_id, description, referring, updated, origin_ae)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [S_SERIES_GET] =
        "SELECT se.id, se.study, st.origin_ae FROM series se"
        " JOIN studies st ON st.id = se.study WHERE se.series_uid = ?1",
    [S_SERIES_INS] =
        "INSERT INTO series(study, series_uid, modality, series_number,"
        "  description, body_part) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [S_INSTANCE] =
        "INSERT INTO instances(series, sop_uid, sop_class, instance_number,"
        "  transfer_syntax, rows, columns, frames, path, size, received,"
        "  calling_ae, charset)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
        " ON CONFLICT(sop_uid) DO NOTHING",
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_QUEUE_INS] =
        "INSERT INTO queue(instance, study, dest, next_try, hold_until,"
        "  created) VALUES(?1, ?2, ?3, ?4, ?5, ?4)"
        " ON CONFLICT(instance, dest) DO NOTHING",
    [S_TEACHING_INS] =
        "INSERT INTO teaching(study_uid, marked, marked_by)"
        " VALUES(?1, ?2, ?3) ON CONFLICT(study_uid) DO NOTHING",
};

struct nd_index {
    sqlite3 *db;
    char err[256]; /* why the last write failed (SQLite's own message is
                      replaced by that of the rollback) */
    sqlite3_stmt *st[S_COUNT];
    /* the series the last instance went to: an association usually sends
     * a series instance by instance (rows are never deleted, so the id
     * stays valid) */
    char last_series[68];
    int64_t last_series_id, last_study_id;
    char last_origin[17];
    /* forwarding (serve): who gets each new instance */
    nd_router_fn route;
    void *route_user;
    int queued; /* queue items the last nd_index_add made */
};

static int rc_of(int sq)
{
    return sq == SQLITE_FULL || sq == SQLITE_IOERR ? ND_EFULL : ND_EINDEX;
}

static int exec(nd_index *ix, const char *sql)
{
    return sqlite3_exec(ix->db, sql, NULL, NULL, NULL);
}

static int schema_version(nd_index *ix, int *out)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(ix->db, "PRAGMA user_version", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int(s, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(s);
    return rc;
}

static int patient_of(nd_index *ix, sqlite3_stmt *get, sqlite3_stmt *ins,
                      const char *id, const char *issuer, const char *name,
                      const char *birth, const char *sex, int64_t *out);

/* After 5 -> 6: each study's patient from one of its files. A study none
 * of whose files can be read keeps the row it had. */
static int split_patients(nd_index *ix, const char *index_path)
{
    char dir[1024];
    dcx_dir_of(index_path, dir, sizeof dir);
    struct study { int64_t id; char *path; } *v = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(
        ix->db,
        "SELECT st.id, (SELECT i.path FROM series se JOIN instances i"
        "  ON i.series = se.id WHERE se.study = st.id LIMIT 1)"
        " FROM studies st",
        -1, &q, NULL);
    if (rc != SQLITE_OK)
        return rc;
    /* the list first: the loop below updates the table */
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *p = (const char *)sqlite3_column_text(q, 1);
        if (!p)
            continue;
        struct study *g = dcx_grow(v, n, &cap, sizeof *v, 256);
        if (!g) {
            rc = SQLITE_NOMEM;
            break;
        }
        v = g;
        v[n].id = sqlite3_column_int64(q, 0);
        if (!(v[n].path = strdup(p))) {
            rc = SQLITE_NOMEM;
            break;
        }
        n++;
    }
    sqlite3_finalize(q);
    rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    sqlite3_stmt *get = NULL, *ins = NULL, *upd = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(ix->db, stmt_sql[S_PATIENT_GET], -1, &get,
                                NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(ix->db, stmt_sql[S_PATIENT_INS], -1, &ins,
                                NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(
            ix->db, "UPDATE studies SET patient = ?1 WHERE id = ?2", -1,
            &upd, NULL);
    struct nd_record *rec = malloc(sizeof *rec);
    if (!rec)
        rc = SQLITE_NOMEM;
    for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
        char path[2200], why[256];
        snprintf(path, sizeof path, "%s/%s", dir, v[i].path);
        int64_t pat;
        if (nd_record_read(path, -1, rec, why, sizeof why) != 0)
            continue;
        rc = patient_of(ix, get, ins, rec->r.patient_id, rec->r.issuer,
                        rec->r.patient_name, rec->r.birth_date, rec->r.sex,
                        &pat);
        if (rc == SQLITE_OK) {
            nd_sql_bind(upd, "II", pat, v[i].id);
            rc = sqlite3_step(upd);
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
            sqlite3_reset(upd);
        }
    }
    free(rec);
    sqlite3_finalize(get);
    sqlite3_finalize(ins);
    sqlite3_finalize(upd);
    for (size_t i = 0; i < n; i++)
        free(v[i].path);
    free(v);
    if (rc == SQLITE_OK)
        rc = exec(ix, "DELETE FROM patients WHERE NOT EXISTS (SELECT 1"
                      " FROM studies st WHERE st.patient = patients.id)");
    return rc;
}

/* 1 if PRAGMA foreign_key_check finds a broken reference (or cannot
 * run), else 0. */
static int foreign_keys_broken(nd_index *ix)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(ix->db, "PRAGMA foreign_key_check", -1, &s,
                           NULL) != SQLITE_OK)
        return 1;
    int broken = sqlite3_step(s) != SQLITE_DONE;
    sqlite3_finalize(s);
    return broken;
}

static int migrate(nd_index *ix, const char *path, char *err, size_t errlen)
{
    int target = (int)(sizeof migrations / sizeof migrations[0]);
    int v = 0;
    /* an index that is up to date is not written to: a user who may only
     * read it can list and verify */
    if (schema_version(ix, &v) == SQLITE_OK && v == target)
        return 0;
    /* a step may rebuild a table others reference (SQLite's way to change
     * a constraint), which needs the references unchecked until the end;
     * the switch is a no-op inside a transaction */
    exec(ix, "PRAGMA foreign_keys = OFF");
    int rc = exec(ix, "BEGIN EXCLUSIVE");
    if (rc == SQLITE_OK)
        rc = schema_version(ix, &v);
    if (rc == SQLITE_OK && v > target) {
        exec(ix, "ROLLBACK");
        snprintf(err, errlen, "index schema %d is newer than this program "
                              "(%d): upgrade consort-node", v, target);
        return ND_EINDEX;
    }
    for (; rc == SQLITE_OK && v < target; v++) {
        rc = exec(ix, migrations[v]);
        if (rc == SQLITE_OK && v == 5)
            rc = split_patients(ix, path);
        if (rc == SQLITE_OK) {
            char sql[64];
            snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
            rc = exec(ix, sql);
        }
    }
    if (rc == SQLITE_OK && exec(ix, "CREATE TABLE IF NOT EXISTS meta("
                                    "key TEXT PRIMARY KEY, value TEXT)") !=
                               SQLITE_OK)
        rc = SQLITE_ERROR;
    /* the version also as a row, for operators and other tools; the
     * authority is PRAGMA user_version, set in the same transaction */
    if (rc == SQLITE_OK) {
        char sql[128];
        snprintf(sql, sizeof sql,
                 "INSERT INTO meta(key, value) VALUES('schema_version', '%d')"
                 " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                 target);
        rc = exec(ix, sql);
    }
    if (rc == SQLITE_OK && foreign_keys_broken(ix))
        rc = SQLITE_CONSTRAINT;
    if (rc == SQLITE_OK)
        rc = exec(ix, "COMMIT");
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "index schema migration to %d failed: %s", v,
                 rc == SQLITE_CONSTRAINT ? "a reference would break"
                                         : sqlite3_errmsg(ix->db));
        exec(ix, "ROLLBACK");
        exec(ix, "PRAGMA foreign_keys = ON");
        return ND_EINDEX;
    }
    exec(ix, "PRAGMA foreign_keys = ON");
    return 0;
}

/* How a connection opens: the node's writer (creates, migrates), a
 * reader beside it, or read-only (another program: the viewer). */
enum conn { WRITER, READER, READ_ONLY };

static int open_conn(const char *path, enum conn how, nd_index **out,
                     char *err, size_t errlen);

int nd_index_open(const char *path, nd_index **out, char *err, size_t errlen)
{
    return open_conn(path, WRITER, out, err, errlen);
}

int nd_index_open_reader(const char *path, nd_index **out, char *err,
                         size_t errlen)
{
    return open_conn(path, READER, out, err, errlen);
}

int nd_index_open_readonly(const char *path, nd_index **out, char *err,
                           size_t errlen)
{
    return open_conn(path, READ_ONLY, out, err, errlen);
}

/* The "file:" URI of path with immutable=1 ('%', '?' and '#' escaped). */
static void immutable_uri(const char *path, char *out, size_t len)
{
    size_t o = (size_t)snprintf(out, len, "file:");
    for (const char *p = path; *p && o + 4 < len; p++) {
        if (*p == '%' || *p == '?' || *p == '#')
            o += (size_t)snprintf(out + o, len - o, "%%%02X",
                                  (unsigned char)*p);
        else
            out[o++] = *p;
    }
    snprintf(out + o, len - o, "?immutable=1");
}

/* A WAL database can be read without write access only while its -shm
 * and -wal files exist, that is while the node runs. With the node
 * stopped (it checkpoints and removes its WAL at exit), the database
 * file holds everything committed, so a reader that cannot create them
 * reads the file as immutable instead. */
static int readonly_fallback(nd_index *ix, const char *path)
{
    int v;
    if (schema_version(ix, &v) == SQLITE_OK)
        return 0;
    int code = sqlite3_errcode(ix->db);
    char wal[1100];
    snprintf(wal, sizeof wal, "%s-wal", path);
    if ((code != SQLITE_READONLY && code != SQLITE_CANTOPEN) ||
        access(wal, F_OK) == 0)
        return 0; /* the error stands, said by the caller's next step */
    char uri[2200];
    immutable_uri(path, uri, sizeof uri);
    sqlite3_close(ix->db);
    ix->db = NULL;
    return sqlite3_open_v2(uri, &ix->db,
                           SQLITE_OPEN_READONLY | SQLITE_OPEN_URI |
                               SQLITE_OPEN_NOMUTEX,
                           NULL);
}

static int open_conn(const char *path, enum conn how, nd_index **out,
                     char *err, size_t errlen)
{
    int reader = how != WRITER;
    *out = NULL;
    nd_index *ix = calloc(1, sizeof *ix);
    if (!ix) {
        snprintf(err, errlen, "out of memory");
        return ND_ENOMEM;
    }
    int rc = sqlite3_open_v2(path, &ix->db,
                             (how == READ_ONLY ? SQLITE_OPEN_READONLY
                                               : SQLITE_OPEN_READWRITE |
                                                     SQLITE_OPEN_CREATE) |
                                 SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc == SQLITE_OK && how == READ_ONLY)
        rc = readonly_fallback(ix, path);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open index %s: %s", path,
                 ix->db ? sqlite3_errmsg(ix->db) : "out of memory");
        goto fail;
    }
    /* Several association threads write: wait for the lock rather than
     * fail (a commit takes well under a millisecond). */
    sqlite3_busy_timeout(ix->db, 30000);
    /* (the journal mode is the file's: a read-only connection finds WAL
     * set by the node) */
    if ((how != READ_ONLY &&
         exec(ix, "PRAGMA journal_mode = WAL") != SQLITE_OK) ||
        exec(ix, "PRAGMA synchronous = NORMAL") != SQLITE_OK ||
        exec(ix, "PRAGMA foreign_keys = ON") != SQLITE_OK) {
        snprintf(err, errlen, "cannot set up index %s: %s", path,
                 sqlite3_errmsg(ix->db));
        goto fail;
    }
    /* The node checkpoints from its main loop, off the C-STORE path
     * (SQLite's own checkpoint every 1,000 pages would put a checkpoint
     * and its fsync into some instance's answer time); this bound is only
     * a safety valve should those fall behind. */
    if (!reader)
        exec(ix, "PRAGMA wal_autocheckpoint = 50000"); /* 200 MB */
    /* A large archive's index outgrows SQLite's 2 MB default cache: every
     * C-STORE then reads its index pages back with pread. A bigger cache
     * for the writer, and pages mapped rather than read for everyone. */
    exec(ix, reader ? "PRAGMA cache_size = -16384"   /* 16 MB */
                    : "PRAGMA cache_size = -65536"); /* 64 MB */
    exec(ix, "PRAGMA mmap_size = 268435456");
    /* a reader of a running node's index: the node migrated it at start
     * (migrating takes an exclusive lock, too costly per association) */
    if (reader) {
        int v = 0;
        if (schema_version(ix, &v) != SQLITE_OK ||
            v != (int)(sizeof migrations / sizeof migrations[0])) {
            snprintf(err, errlen, "index %s has schema %d, not %d", path, v,
                     (int)(sizeof migrations / sizeof migrations[0]));
            goto fail;
        }
    } else if (migrate(ix, path, err, errlen) != 0) {
        goto fail;
    }
    for (int i = 0; i < S_COUNT; i++) {
        if (sqlite3_prepare_v3(ix->db, stmt_sql[i], -1,
                               SQLITE_PREPARE_PERSISTENT, &ix->st[i],
                               NULL) != SQLITE_OK) {
            snprintf(err, errlen, "index statement %d: %s", i,
                     sqlite3_errmsg(ix->db));
            goto fail;
        }
    }
    *out = ix;
    return 0;
fail:
    nd_index_close(ix);
    return ND_EINDEX;
}

void nd_index_close(nd_index *ix)
{
    if (!ix)
        return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(ix->st[i]);
    sqlite3_close(ix->db);
    free(ix);
}

/* SELECT id ... WHERE key = ?1: 1 and *out if found, 0 if not. */
static int lookup(sqlite3_stmt *s, const char *key, int64_t *out)
{
    nd_sql_bind(s, "t", key);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -rc;
}

/* lookup() that also reads an integer and a text column (from, from+1). */
static int lookup_more(sqlite3_stmt *s, const char *key, int64_t *out,
                       int from, int64_t *out_int, char *out_text,
                       size_t text_len)
{
    nd_sql_bind(s, "t", key);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(s, 0);
        if (out_int)
            *out_int = sqlite3_column_int64(s, from++);
        nd_sql_col_copy(s, from, out_text, text_len);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -rc;
}

static int insert(nd_index *ix, sqlite3_stmt *s, int64_t *out_id)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE)
        return rc;
    *out_id = sqlite3_last_insert_rowid(ix->db);
    return SQLITE_OK;
}

static void now_iso(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The patient row of these demographics, created if new, through get and
 * ins (S_PATIENT_GET/INS's SQL: the migration prepares its own before the
 * connection's are): SQLITE_OK and *out, or an SQLite error. */
static int patient_of(nd_index *ix, sqlite3_stmt *get, sqlite3_stmt *ins,
                      const char *id, const char *issuer, const char *name,
                      const char *birth, const char *sex, int64_t *out)
{
    /* ?2.. first: lookup() binds the key, ?1 */
    const char *v[] = {issuer, name, birth, sex};
    for (int i = 0; i < 4; i++)
        sqlite3_bind_text(get, i + 2, v[i] ? v[i] : "", -1, SQLITE_STATIC);
    int f = lookup(get, id ? id : "", out);
    if (f != 0)
        return f > 0 ? SQLITE_OK : -f;
    nd_sql_bind(ins, "ttttt", id ? id : "", name, birth, sex, issuer);
    return insert(ix, ins, out);
}

/* The series row of r (and its study with the study's origin), creating
 * patient, study and series as needed. */
static int series_of(nd_index *ix, const struct nd_instance_rec *r,
                     const char *now, int64_t *out, int64_t *out_study,
                     char origin[17])
{
    int64_t pat = 0, study = 0;
    int f = lookup_more(ix->st[S_SERIES_GET], r->series_uid, out, 1,
                        out_study, origin, 17);
    if (f != 0)
        return f > 0 ? SQLITE_OK : -f;
    f = lookup_more(ix->st[S_STUDY_GET], r->study_uid, &study, 1, NULL,
                    origin, 17);
    if (f < 0)
        return -f;
    if (f == 0) {
        int rc = patient_of(ix, ix->st[S_PATIENT_GET], ix->st[S_PATIENT_INS],
                            r->patient_id, r->issuer, r->patient_name,
                            r->birth_date, r->sex, &pat);
        if (rc != SQLITE_OK)
            return rc;
        sqlite3_stmt *s = ix->st[S_STUDY_INS];
        nd_sql_bind(s, "Ittttttttt", pat, r->study_uid, r->study_date,
                    r->study_time, r->accession, r->study_id, r->study_desc,
                    r->referring, now, r->origin);
        rc = insert(ix, s, &study);
        if (rc != SQLITE_OK)
            return rc;
        snprintf(origin, 17, "%s", r->origin ? r->origin : "");
    }
    *out_study = study;
    sqlite3_stmt *s = ix->st[S_SERIES_INS];
    nd_sql_bind(s, "Ittott", study, r->series_uid, r->modality,
                (int64_t)r->series_number, r->series_desc, r->body_part);
    return insert(ix, s, out);
}

/* Queue items for a new instance, in its index transaction: the item
 * exists exactly when the instance does. */
static int enqueue(nd_index *ix, const struct nd_instance_rec *r,
                   int64_t instance, int64_t study, const char *origin)
{
    struct nd_route_dest d[ND_MAX_ROUTE_DESTS];
    int n = ix->route(ix->route_user, r, origin, d, ND_MAX_ROUTE_DESTS);
    int64_t now = (int64_t)time(NULL);
    sqlite3_stmt *s = ix->st[S_QUEUE_INS];
    for (int i = 0; i < n; i++) {
        nd_sql_bind(s, "IItII", instance, study, d[i].ae, now,
                    now + d[i].delay);
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        if (rc != SQLITE_DONE)
            return rc;
        ix->queued++;
    }
    return SQLITE_OK;
}

void nd_index_set_router(nd_index *ix, nd_router_fn fn, void *user)
{
    ix->route = fn;
    ix->route_user = user;
}

int nd_index_last_queued(const nd_index *ix)
{
    return ix->queued;
}

int nd_index_add(nd_index *ix, const struct nd_instance_rec *r)
{
    char now[32];
    now_iso(now, sizeof now);
    int64_t series = 0;
    int rc = sqlite3_step(ix->st[S_BEGIN]);
    sqlite3_reset(ix->st[S_BEGIN]);
    if (rc != SQLITE_DONE) {
        snprintf(ix->err, sizeof ix->err, "%s", sqlite3_errmsg(ix->db));
        return rc_of(rc);
    }
    rc = SQLITE_OK;
    ix->queued = 0;
    int64_t study = 0;
    char origin[17];
    if (ix->last_series_id && strcmp(ix->last_series, r->series_uid) == 0) {
        series = ix->last_series_id;
        study = ix->last_study_id;
        memcpy(origin, ix->last_origin, sizeof origin);
    } else {
        rc = series_of(ix, r, now, &series, &study, origin);
    }
    int existed = 0;
    if (rc == SQLITE_OK) {
        sqlite3_stmt *s = ix->st[S_INSTANCE];
        nd_sql_bind(s, "IttotoootIttt", series, r->sop_uid, r->sop_class,
                    (int64_t)r->instance_number, r->transfer_syntax,
                    (int64_t)r->rows, (int64_t)r->columns, (int64_t)r->frames,
                    r->path, (int64_t)r->size, now, r->calling_ae,
                    r->charset);
        rc = sqlite3_step(s);
        existed = rc == SQLITE_DONE && sqlite3_changes(ix->db) == 0;
        int64_t instance = sqlite3_last_insert_rowid(ix->db);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        if (rc == SQLITE_OK && !existed && ix->route)
            rc = enqueue(ix, r, instance, study, origin);
        if (rc == SQLITE_OK && r->teaching) {
            s = ix->st[S_TEACHING_INS];
            nd_sql_bind(s, "tIt", r->study_uid, (int64_t)time(NULL),
                        r->calling_ae);
            rc = sqlite3_step(s);
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
            sqlite3_reset(s);
            sqlite3_clear_bindings(s);
        }
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(ix->st[S_COMMIT]);
        sqlite3_reset(ix->st[S_COMMIT]);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    if (rc != SQLITE_OK) {
        int code = rc_of(sqlite3_extended_errcode(ix->db) & 0xFF);
        snprintf(ix->err, sizeof ix->err, "%s", sqlite3_errmsg(ix->db));
        /* a failed COMMIT may have rolled back already */
        if (!sqlite3_get_autocommit(ix->db)) {
            sqlite3_step(ix->st[S_ROLLBACK]);
            sqlite3_reset(ix->st[S_ROLLBACK]);
        }
        ix->last_series_id = 0;
        ix->queued = 0;
        return code;
    }
    ix->err[0] = '\0';
    snprintf(ix->last_series, sizeof ix->last_series, "%s", r->series_uid);
    ix->last_series_id = series;
    ix->last_study_id = study;
    memcpy(ix->last_origin, origin, sizeof origin);
    return existed;
}

int nd_index_meta_get(nd_index *ix, const char *key, char *out, size_t len)
{
    sqlite3_stmt *s =
        nd_sql(ix, "SELECT value FROM meta WHERE key = ?1", "t", key);
    if (!s)
        return ND_EINDEX;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        nd_sql_col_copy(s, 0, out, len);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : ND_EINDEX;
}

int nd_index_meta_set(nd_index *ix, const char *key, const char *value)
{
    int rc = nd_sql_run(ix, NULL,
                        "INSERT INTO meta(key, value) VALUES(?1, ?2)"
                        " ON CONFLICT(key) DO UPDATE SET value = ?2",
                        "tt", key, value);
    return rc == SQLITE_OK ? 0 : rc_of(rc);
}

int nd_index_checkpoint(nd_index *ix)
{
    int rc = sqlite3_wal_checkpoint_v2(ix->db, NULL, SQLITE_CHECKPOINT_FULL,
                                       NULL, NULL);
    return rc == SQLITE_OK ? 0 : rc_of(rc);
}

int nd_index_checkpoint_passive(nd_index *ix)
{
    int rc = sqlite3_wal_checkpoint_v2(ix->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                       NULL, NULL);
    return rc == SQLITE_OK || rc == SQLITE_BUSY ? 0 : rc_of(rc);
}

int nd_index_ls(nd_index *ix, int (*fn)(void *, const struct nd_ls_row *),
                void *user)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(
            ix->db,
            "SELECT p.patient_id, p.name, st.study_uid, st.study_date,"
            "  st.description, se.series_uid, se.modality, se.description,"
            "  coalesce(se.series_number, -1),"
            "  (SELECT count(*) FROM instances i WHERE i.series = se.id),"
            "  (SELECT coalesce(sum(size), 0) FROM instances i"
            "   WHERE i.series = se.id)"
            " FROM series se JOIN studies st ON se.study = st.id"
            " JOIN patients p ON st.patient = p.id"
            " ORDER BY p.name, p.patient_id, st.study_date, st.study_uid,"
            "  se.series_number, se.series_uid",
            -1, &s, NULL) != SQLITE_OK)
        return ND_EINDEX;
    int rc, out = 0;
    while (out == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct nd_ls_row r = {
            nd_sql_col(s, 0), nd_sql_col(s, 1), nd_sql_col(s, 2),
            nd_sql_col(s, 3), nd_sql_col(s, 4), nd_sql_col(s, 5),
            nd_sql_col(s, 6), nd_sql_col(s, 7), sqlite3_column_int(s, 8),
            sqlite3_column_int64(s, 9), sqlite3_column_int64(s, 10)};
        out = fn(user, &r);
    }
    if (out == 0 && rc != SQLITE_DONE)
        out = ND_EINDEX;
    sqlite3_finalize(s);
    return out;
}

int nd_index_files(nd_index *ix,
                   int (*fn)(void *user, const char *sop_uid,
                             const char *study_uid, const char *path,
                             int64_t size),
                   void *user)
{
    sqlite3_stmt *s = nd_sql(ix,
                             "SELECT i.sop_uid, st.study_uid, i.path, i.size"
                             " FROM instances i JOIN series se"
                             " ON se.id = i.series JOIN studies st"
                             " ON st.id = se.study ORDER BY i.path",
                             NULL);
    if (!s)
        return nd_sql_err(ix);
    int rc, out = 0;
    while (out == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW)
        out = fn(user, nd_sql_col(s, 0), nd_sql_col(s, 1), nd_sql_col(s, 2),
                 sqlite3_column_int64(s, 3));
    if (out == 0 && rc != SQLITE_DONE)
        out = nd_sql_err(ix);
    sqlite3_finalize(s);
    return out;
}

int nd_index_totals(nd_index *ix, int64_t out[5])
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(ix->db,
                           "SELECT (SELECT count(*) FROM patients),"
                           " (SELECT count(*) FROM studies),"
                           " (SELECT count(*) FROM series),"
                           " (SELECT count(*) FROM instances),"
                           " (SELECT coalesce(sum(size), 0) FROM instances)",
                           -1, &s, NULL) != SQLITE_OK)
        return ND_EINDEX;
    int rc = sqlite3_step(s);
    for (int i = 0; rc == SQLITE_ROW && i < 5; i++)
        out[i] = sqlite3_column_int64(s, i);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : ND_EINDEX;
}

void nd_deleted_free(struct nd_deleted *d)
{
    for (int64_t i = 0; d->paths && i < d->instances; i++)
        free(d->paths[i]);
    free(d->paths);
    d->paths = NULL;
}

/* Removes patient row id when no study is left to it. */
static int drop_patient_if_unused(nd_index *ix, int64_t id)
{
    return nd_sql_run(ix, NULL,
                      "DELETE FROM patients WHERE id = ?1 AND NOT EXISTS"
                      " (SELECT 1 FROM studies WHERE patient = ?1)",
                      "I", id);
}

int nd_index_delete_study(nd_index *ix, const char *study_uid,
                          struct nd_deleted *out)
{
    memset(out, 0, sizeof *out);
    int64_t study = -1, patient = -1;
    size_t cap = 0;
    if (nd_sql_begin(ix) != SQLITE_OK)
        return ND_EINDEX;
    sqlite3_stmt *s = nd_sql(ix,
               "SELECT st.id, p.id, p.patient_id,"
               " (SELECT count(*) FROM series WHERE study = st.id)"
               " FROM studies st JOIN patients p"
               " ON p.id = st.patient WHERE st.study_uid = ?1",
               "t", study_uid);
    int rc = SQLITE_ERROR;
    if (s) {
        if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            study = sqlite3_column_int64(s, 0);
            patient = sqlite3_column_int64(s, 1);
            nd_sql_col_copy(s, 2, out->patient_id, sizeof out->patient_id);
            out->series = sqlite3_column_int64(s, 3);
        }
    }
    sqlite3_finalize(s);
    if (study < 0) {
        exec(ix, "ROLLBACK");
        return rc == SQLITE_DONE ? ND_ENOTFOUND : ND_EINDEX;
    }
    s = nd_sql(ix,
               "SELECT i.path FROM instances i JOIN series se"
               " ON i.series = se.id WHERE se.study = ?1",
               "I", study);
    rc = SQLITE_ERROR;
    if (s) {
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            char **v = dcx_grow(out->paths, (size_t)out->instances, &cap,
                               sizeof *v, 64);
            if (!v) {
                rc = SQLITE_NOMEM;
                break;
            }
            out->paths = v;
            if (!(out->paths[out->instances] = strdup(nd_sql_col(s, 0)))) {
                rc = SQLITE_NOMEM;
                break;
            }
            out->instances++;
        }
    }
    sqlite3_finalize(s);
    static const char *const del[] = {
        "DELETE FROM queue WHERE study = ?1",
        ("DELETE FROM instances WHERE series IN"
         " (SELECT id FROM series WHERE study = ?1)"),
        "DELETE FROM series WHERE study = ?1",
        "DELETE FROM studies WHERE id = ?1",
    };
    rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof del / sizeof del[0]; i++)
        rc = nd_sql_run(ix, NULL, del[i], "I", study);
    if (rc == SQLITE_OK)
        rc = drop_patient_if_unused(ix, patient);
    if (rc != SQLITE_OK || nd_sql_commit(ix) != SQLITE_OK) {
        exec(ix, "ROLLBACK");
        nd_deleted_free(out);
        out->instances = 0;
        return rc == SQLITE_NOMEM ? ND_ENOMEM : ND_EINDEX;
    }
    return 0;
}

#define MARK_GONE 1 /* replace_rows: the intent mark is not there */

/* The intent mark of an accept: "accepting:" + the replaced-* name its
 * archived copy gets (one per accept, so two accepts of one instance
 * never share a mark), valued the instance's SOP Instance UID. */
#define ACCEPT_MARK "accepting:"

/* Removes an intent mark (in the caller's transaction, or alone when
 * nothing was changed after it). */
static int unmark(nd_index *ix, const char *marker)
{
    return nd_sql_run(ix, NULL, "DELETE FROM meta WHERE key = ?1", "t",
                      marker);
}

/* The rows of r's instance, series, study and patient taken from r, and
 * the intent mark `marker` removed, inside the caller's write
 * transaction (which it ends either way). 0, or a negative ND_E* code. */
static int replace_rows_in(nd_index *ix, const struct nd_instance_rec *r,
                           const char *marker)
{
    ix->last_series_id = 0; /* rows change under it */
    ix->queued = 0;
    sqlite3_stmt *s =
        nd_sql(ix,
               "SELECT i.id, se.id, st.id, st.patient, se.series_uid,"
               " st.study_uid, st.origin_ae FROM instances i"
               " JOIN series se ON se.id = i.series"
               " JOIN studies st ON st.id = se.study WHERE i.sop_uid = ?1",
               "t", r->sop_uid);
    int64_t id[4] = {-1, -1, -1, -1}; /* instance, series, study, patient */
    char series_uid[68] = "", study_uid[68] = "", origin[17] = "";
    int rc = s ? sqlite3_step(s) : SQLITE_ERROR;
    if (rc == SQLITE_ROW) {
        for (int k = 0; k < 4; k++)
            id[k] = sqlite3_column_int64(s, k);
        nd_sql_col_copy(s, 4, series_uid, sizeof series_uid);
        nd_sql_col_copy(s, 5, study_uid, sizeof study_uid);
        nd_sql_col_copy(s, 6, origin, sizeof origin);
    }
    sqlite3_finalize(s);
    if (id[0] < 0)
        return rc == SQLITE_DONE ? ND_ENOTFOUND : nd_sql_err(ix);
    if (strcmp(series_uid, r->series_uid) != 0 ||
        strcmp(study_uid, r->study_uid) != 0) {
        snprintf(ix->err, sizeof ix->err,
                 "it belongs to %s %s, the archived copy to %s",
                 strcmp(study_uid, r->study_uid) ? "study" : "series",
                 strcmp(study_uid, r->study_uid) ? r->study_uid
                                                 : r->series_uid,
                 strcmp(study_uid, r->study_uid) ? study_uid : series_uid);
        return ND_EBADDATA;
    }
    char now[32];
    now_iso(now, sizeof now);
    int64_t pat = 0;
    rc = nd_sql_run(ix, NULL,
                    "UPDATE instances SET sop_class = ?2,"
                    " instance_number = ?3, transfer_syntax = ?4, rows = ?5,"
                    " columns = ?6, frames = ?7, size = ?8, charset = ?9"
                    " WHERE id = ?1",
                    "ItotoooIt", id[0], r->sop_class,
                    (int64_t)r->instance_number, r->transfer_syntax,
                    (int64_t)r->rows, (int64_t)r->columns, (int64_t)r->frames,
                    r->size, r->charset);
    if (rc == SQLITE_OK)
        rc = nd_sql_run(ix, NULL,
                        "UPDATE series SET modality = ?2, series_number = ?3,"
                        " description = ?4, body_part = ?5 WHERE id = ?1",
                        "Itott", id[1], r->modality,
                        (int64_t)r->series_number, r->series_desc,
                        r->body_part);
    if (rc == SQLITE_OK)
        rc = patient_of(ix, ix->st[S_PATIENT_GET], ix->st[S_PATIENT_INS],
                        r->patient_id, r->issuer, r->patient_name,
                        r->birth_date, r->sex, &pat);
    if (rc == SQLITE_OK)
        rc = nd_sql_run(ix, NULL,
                        "UPDATE studies SET patient = ?2, study_date = ?3,"
                        " study_time = ?4, accession = ?5, study_id = ?6,"
                        " description = ?7, referring = ?8, updated = ?9"
                        " WHERE id = ?1",
                        "IIttttttt", id[2], pat, r->study_date, r->study_time,
                        r->accession, r->study_id, r->study_desc,
                        r->referring, now);
    if (rc == SQLITE_OK && pat != id[3])
        rc = drop_patient_if_unused(ix, id[3]);
    if (rc == SQLITE_OK && ix->route)
        rc = enqueue(ix, r, id[0], id[2], origin);
    if (rc == SQLITE_OK && marker)
        rc = unmark(ix, marker);
    return rc == SQLITE_OK ? 0 : nd_sql_err(ix);
}

/* replace_rows_in in a transaction of its own that ends with place(user)
 * (NULL: nothing to place). The mark must still be there once the
 * transaction began (MARK_GONE if not: a recovery in another process
 * took it, and the swap would have no mark on disk). */
static int replace_rows(nd_index *ix, const struct nd_instance_rec *r,
                        int (*place)(void *user), void *user, int *placed,
                        const char *marker)
{
    *placed = 0;
    if (nd_sql_begin(ix) != SQLITE_OK)
        return nd_sql_fail(ix);
    char v[8];
    int rc = nd_index_meta_get(ix, marker, v, sizeof v);
    if (rc != 0)
        rc = rc == 1 ? MARK_GONE : nd_sql_err(ix);
    if (rc == 0)
        rc = replace_rows_in(ix, r, marker);
    if (rc == 0 && place)
        rc = place(user);
    if (rc == 0) {
        *placed = 1;
        if (nd_sql_commit(ix) == SQLITE_OK)
            return 0;
        rc = nd_sql_err(ix);
    }
    if (!sqlite3_get_autocommit(ix->db))
        exec(ix, "ROLLBACK");
    ix->queued = 0;
    return rc;
}


int nd_index_replace(nd_index *ix, const struct nd_instance_rec *r,
                     const char *replaced_rel, int (*place)(void *user),
                     void *user, int *placed)
{
    /* The files are swapped before the rows commit, and a commit with
     * synchronous = NORMAL is lost to a power cut until the next
     * checkpoint, while the swap is not: an intent mark, committed to
     * disk (FULL) before the swap, tells start-up to take the rows from
     * the file in place again (nd_index_recover_accepts). */
    char marker[400];
    snprintf(marker, sizeof marker, ACCEPT_MARK "%s", replaced_rel);
    *placed = 0;
    int rc = MARK_GONE;
    /* a recovery in another process (`conflicts accept` beside a node
     * that is accepting) may take the mark before our transaction
     * begins: then mark again */
    for (int tries = 0; rc == MARK_GONE && tries < 5; tries++) {
        int marked = exec(ix, "PRAGMA synchronous = FULL") == SQLITE_OK &&
                     nd_index_meta_set(ix, marker, r->sop_uid) == 0;
        exec(ix, "PRAGMA synchronous = NORMAL");
        if (!marked)
            return nd_sql_err(ix);
        rc = replace_rows(ix, r, place, user, placed, marker);
    }
    if (rc == MARK_GONE) {
        snprintf(ix->err, sizeof ix->err, "the index is busy with another "
                                          "accept of this instance");
        return ND_EINDEX;
    }
    /* nothing was placed: nothing to recover (placed and not committed,
     * the caller swaps back; the mark then re-derives what is there) */
    if (rc < 0 && !*placed)
        unmark(ix, marker);
    return rc;
}

int nd_index_recover_accepts(nd_index *ix, const char *storage, int *out_n)
{
    *out_n = 0;
    /* All of it in one write transaction: an accept in another process
     * holds the write lock from before its swap to its commit, so a mark
     * seen here is one whose accept died, or one whose files are not
     * touched yet (that accept then sees its mark gone and marks again),
     * never one whose file is being swapped under the record read here. */
    if (nd_sql_begin(ix) != SQLITE_OK)
        return nd_sql_fail(ix);
    struct mark { char key[400], sop[80], path[200]; } *v = NULL;
    size_t n = 0, cap = 0;
    /* marks made before they were named by the replaced copy:
     * "accepting:<SOP Instance UID>" */
    sqlite3_stmt *s = nd_sql(ix,
                             "SELECT m.key, i.sop_uid, i.path FROM meta m"
                             " LEFT JOIN instances i ON i.sop_uid ="
                             " CASE WHEN m.key GLOB ?2 THEN m.value"
                             " ELSE substr(m.key, ?1) END"
                             " WHERE m.key GLOB ?3",
                             "itt", (int)strlen(ACCEPT_MARK) + 1,
                             ACCEPT_MARK "conflicts/*", ACCEPT_MARK "*");
    if (!s)
        return nd_sql_fail(ix);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct mark *g = dcx_grow(v, n, &cap, sizeof *v, 8);
        if (!g) {
            rc = SQLITE_NOMEM;
            break;
        }
        v = g;
        nd_sql_col_copy(s, 0, v[n].key, sizeof v[n].key);
        nd_sql_col_copy(s, 1, v[n].sop, sizeof v[n].sop);
        nd_sql_col_copy(s, 2, v[n].path, sizeof v[n].path);
        n++;
    }
    sqlite3_finalize(s);
    int err = rc == SQLITE_DONE ? 0 : rc == SQLITE_NOMEM ? ND_ENOMEM
                                                          : ND_EINDEX;
    struct nd_record *rec = n ? malloc(sizeof *rec) : NULL;
    if (n && !rec)
        err = ND_ENOMEM;
    for (size_t k = 0; !err && k < n; k++) {
        char path[1400], why[256];
        snprintf(path, sizeof path, "%s/%s", storage, v[k].path);
        const char *replaced = v[k].key + strlen(ACCEPT_MARK);
        struct stat st, rs;
        /* died between the two steps of nd_archive_replace: the old copy
         * is still in place, its replaced-* name a second link to it */
        if (v[k].path[0] &&
            strncmp(replaced, "conflicts/replaced-", 19) == 0) {
            char rp[1400];
            snprintf(rp, sizeof rp, "%s/%s", storage, replaced);
            if (stat(path, &st) == 0 && stat(rp, &rs) == 0 &&
                st.st_dev == rs.st_dev && st.st_ino == rs.st_ino)
                unlink(rp);
        }
        /* the rows from the file that is in place, whichever it is */
        if (v[k].path[0] && nd_record_read(path, -1, rec, why, sizeof why) ==
                                0 &&
            stat(path, &st) == 0) {
            rec->r.size = (int64_t)st.st_size;
            rec->r.path = v[k].path;
            rec->r.calling_ae = rec->r.origin = "";
            rc = replace_rows_in(ix, &rec->r, v[k].key);
            if (rc == ND_EBADDATA) /* not an accept's file: leave it */
                unmark(ix, v[k].key);
            else if (rc < 0) {
                err = rc;
                break;
            }
        } else {
            unmark(ix, v[k].key); /* no such instance or file any more */
        }
        (*out_n)++;
    }
    free(rec);
    free(v);
    if (err) {
        if (!sqlite3_get_autocommit(ix->db))
            exec(ix, "ROLLBACK");
        *out_n = 0;
        return err;
    }
    if (nd_sql_commit(ix) != SQLITE_OK)
        return nd_sql_fail(ix);
    return 0;
}

sqlite3 *nd_index_db(nd_index *ix)
{
    return ix->db;
}

void nd_index_set_err(nd_index *ix, const char *msg)
{
    snprintf(ix->err, sizeof ix->err, "%s", msg ? msg : "");
}

const char *nd_index_errmsg(nd_index *ix)
{
    return ix->err[0] ? ix->err : sqlite3_errmsg(ix->db);
}

/* ---- queries ---- */

static const struct {
    enum nd_level level;
    const char *expr;   /* what is returned */
    const char *match;  /* what is matched (NULL: not matchable) */
} keys[NK_COUNT] = {
    [NK_PATIENT_ID] = {ND_PATIENT, "p.patient_id", "p.patient_id"},
    [NK_PATIENT_NAME] = {ND_PATIENT, "p.name", "p.name"},
    [NK_BIRTH_DATE] = {ND_PATIENT, "p.birth_date", "p.birth_date"},
    [NK_SEX] = {ND_PATIENT, "p.sex", "p.sex"},
    [NK_ISSUER] = {ND_PATIENT, "p.issuer", "p.issuer"},
    [NK_STUDY_UID] = {ND_STUDY, "st.study_uid", "st.study_uid"},
    [NK_STUDY_DATE] = {ND_STUDY, "st.study_date", "st.study_date"},
    /* compared as hhmmss ("0930" is 09:30:00); an empty time stays NULL,
     * which equals no value and is in no range: padded, it was "000000"
     * and a query for midnight found every study without a time */
    [NK_STUDY_TIME] = {ND_STUDY, "st.study_time",
                       "substr(replace(nullif(st.study_time, ''), ':', '')"
                       " || '000000', 1, 6)"},
    [NK_ACCESSION] = {ND_STUDY, "st.accession", "st.accession"},
    [NK_STUDY_ID] = {ND_STUDY, "st.study_id", "st.study_id"},
    [NK_STUDY_DESC] = {ND_STUDY, "st.description", "st.description"},
    [NK_REFERRING] = {ND_STUDY, "st.referring", "st.referring"},
    [NK_MODALITIES_IN_STUDY] =
        {ND_STUDY,
         /* "all of the distinct values used for Modality in the Series
          * of the Study" (PS3.4 C.6): a series without one adds no
          * empty value */
         "(SELECT replace(group_concat(DISTINCT nullif(m.modality, '')),"
         " ',', '\\') FROM series m WHERE m.study = st.id)",
         "m.modality"},
    [NK_SERIES_UID] = {ND_SERIES, "se.series_uid", "se.series_uid"},
    [NK_MODALITY] = {ND_SERIES, "se.modality", "se.modality"},
    [NK_SERIES_NUMBER] = {ND_SERIES, "se.series_number",
                          "CAST(se.series_number AS TEXT)"},
    [NK_SERIES_DESC] = {ND_SERIES, "se.description", "se.description"},
    [NK_BODY_PART] = {ND_SERIES, "se.body_part", "se.body_part"},
    [NK_SOP_UID] = {ND_IMAGE, "i.sop_uid", "i.sop_uid"},
    [NK_SOP_CLASS] = {ND_IMAGE, "i.sop_class", "i.sop_class"},
    [NK_INSTANCE_NUMBER] = {ND_IMAGE, "i.instance_number",
                            "CAST(i.instance_number AS TEXT)"},
    [NK_ROWS] = {ND_IMAGE, "i.rows", NULL},
    [NK_COLUMNS] = {ND_IMAGE, "i.columns", NULL},
    [NK_FRAMES] = {ND_IMAGE, "i.frames", NULL},
    [NK_TRANSFER_SYNTAX] = {ND_IMAGE, "i.transfer_syntax", NULL},
    [NK_PAT_STUDIES] = {ND_PATIENT,
                        "(SELECT count(*) FROM studies x"
                        " WHERE x.patient = p.id)", NULL},
    [NK_PAT_SERIES] = {ND_PATIENT,
                       "(SELECT count(*) FROM series x JOIN studies y"
                       " ON x.study = y.id WHERE y.patient = p.id)", NULL},
    [NK_PAT_INSTANCES] = {ND_PATIENT,
                          "(SELECT count(*) FROM instances x JOIN series y"
                          " ON x.series = y.id JOIN studies z"
                          " ON y.study = z.id WHERE z.patient = p.id)", NULL},
    /* what a study holds besides images (GSPS, key objects, reports):
     * the viewer's reading status */
    [NK_SOP_CLASSES_IN_STUDY] =
        {ND_STUDY,
         "(SELECT replace(group_concat(DISTINCT x.sop_class), ',', '\\')"
         " FROM instances x JOIN series y ON x.series = y.id"
         " WHERE y.study = st.id)",
         NULL},
    [NK_STUDY_SERIES] = {ND_STUDY,
                         "(SELECT count(*) FROM series x"
                         " WHERE x.study = st.id)", NULL},
    [NK_STUDY_INSTANCES] = {ND_STUDY,
                            "(SELECT count(*) FROM instances x JOIN series y"
                            " ON x.series = y.id WHERE y.study = st.id)",
                            NULL},
    [NK_SERIES_INSTANCES] = {ND_SERIES,
                             "(SELECT count(*) FROM instances x"
                             " WHERE x.series = se.id)", NULL},
    [NK_PATH] = {ND_IMAGE, "i.path", NULL},
};

enum nd_level nd_key_level(enum nd_key k)
{
    return keys[k].level;
}

/* A growable SQL text with its bound parameters (borrowed strings). */
struct sql {
    char *s;
    size_t len, cap;
    const char **params; /* sized for the query by nd_index_find */
    char **owned;        /* converted patterns, freed after the query */
    int n_params, n_owned, max_params, max_owned;
    int oom;
};

static void put(struct sql *q, const char *t)
{
    size_t n = strlen(t);
    if (q->oom)
        return;
    if (q->len + n + 1 > q->cap) {
        size_t cap = (q->cap + n + 1) * 2;
        char *s = realloc(q->s, cap);
        if (!s) {
            q->oom = 1;
            return;
        }
        q->s = s;
        q->cap = cap;
    }
    memcpy(q->s + q->len, t, n + 1);
    q->len += n;
}

static void param(struct sql *q, const char *v)
{
    if (q->n_params >= q->max_params) {
        q->oom = 1;
        return;
    }
    q->params[q->n_params++] = v;
    put(q, "?");
}

/* DICOM wildcards to a GLOB (case-sensitive) or LIKE (ASCII
 * case-insensitive, ESCAPE '\') pattern. */
static char *pattern(const char *v, int like)
{
    char *out = malloc(strlen(v) * 3 + 1), *o = out;
    if (!out)
        return NULL;
    for (; *v; v++) {
        if (*v == '*')
            *o++ = like ? '%' : '*';
        else if (*v == '?')
            *o++ = like ? '_' : '?';
        else if (like && (*v == '%' || *v == '_' || *v == '\\')) {
            *o++ = '\\';
            *o++ = *v;
        } else if (!like && *v == '[') {
            memcpy(o, "[[]", 3);
            o += 3;
        } else
            *o++ = *v;
    }
    *o = '\0';
    return out;
}

static char *own(struct sql *q, char *s)
{
    if (!s || q->n_owned >= q->max_owned) {
        free(s);
        q->oom = 1;
        return NULL;
    }
    return q->owned[q->n_owned++] = s;
}

/* col equal to v, or matching it as a wildcard pattern (wild); fold:
 * ASCII case-insensitive (PN). */
static void text_sql(struct sql *q, const char *col, const char *v, int fold,
                     int wild)
{
    if (!wild) {
        put(q, col);
        put(q, " = ");
        param(q, v);
        if (fold)
            put(q, " COLLATE NOCASE");
        return;
    }
    char *pat = own(q, pattern(v, fold));
    if (!pat)
        return;
    put(q, col);
    put(q, fold ? " LIKE " : " GLOB ");
    param(q, pat);
    /* only when needed: an ESCAPE clause turns off SQLite's LIKE
     * optimisation (the index range for a prefix) */
    if (fold && strchr(pat, '\\'))
        put(q, " ESCAPE '\\'");
}

/* The component groups of a Person Name "alphabetic=ideographic=phonetic"
 * (PS3.5 6.2.1) as SQL over a text x, the expressions of the generated
 * columns of step 6 -> 7: PN_FIRST(x) is what precedes the first '=' (all
 * of x without one), PN_REST(x) what follows it ('' without one). */
#define PN_FIRST(x) "substr(" x ", 1, instr(" x " || '=', '=') - 1)"
#define PN_REST(x) "substr(" x ", instr(" x " || '=', '=') + 1)"
#define PN_ALPHA(x) PN_FIRST(x)
#define PN_IDEO(x) PN_FIRST(PN_REST(x))
#define PN_PHON(x) PN_REST(PN_REST(x))

/* A Person Name is "alphabetic=ideographic=phonetic" (PS3.5 6.2.1), e.g.
 * "Zhang^San=张^三"; PS3.4 C.2.2.2.1 leaves matching across groups to the
 * SCP. Ours, as dcm4chee's: a query value without '=' matches a name any
 * of whose groups it matches ("张*", "zhang^san"); one with '=' matches
 * group by group, an empty or "*" group matching anything ("=张^三",
 * "Zhang^San=张^三"). Each group is a column of its own (schema 7): for
 * PatientName indexed, so a prefix stays an index range per group. */
static void pn_sql(struct sql *q, enum nd_key key, const char *v)
{
    static const char *const patient[3] = {"p.name_alpha", "p.name_ideo",
                                           "p.name_phon"};
    /* not indexed (neither is the whole value): computed per row */
    static const char *const referring[3] = {PN_ALPHA("st.referring"),
                                             PN_IDEO("st.referring"),
                                             PN_PHON("st.referring")};
    const char *const *g = key == NK_REFERRING ? referring : patient;
    if (!strchr(v, '=')) {
        put(q, "(");
        for (int i = 0; i < 3; i++) {
            if (i)
                put(q, " OR ");
            text_sql(q, g[i], v, 1, strpbrk(v, "*?") != NULL);
        }
        put(q, ")");
        return;
    }
    char *copy = own(q, strdup(v));
    if (!copy)
        return;
    put(q, "(1");
    char *part = copy;
    for (int i = 0; i < 3 && part; i++) {
        /* the phonetic group is the rest, '=' and all */
        char *next = i < 2 ? strchr(part, '=') : NULL;
        if (next)
            *next++ = '\0';
        if (*part && strcmp(part, "*") != 0) {
            put(q, " AND ");
            text_sql(q, g[i], part, 1, strpbrk(part, "*?") != NULL);
        }
        part = next;
    }
    put(q, ")");
}

static void cond_sql(struct sql *q, const struct nd_cond *c)
{
    const char *col = keys[c->key].match;
    int in_study_series = c->key == NK_MODALITIES_IN_STUDY;
    put(q, " AND ");
    if (in_study_series)
        put(q, "EXISTS (SELECT 1 FROM series m WHERE m.study = st.id AND ");
    switch (c->match) {
    case NM_SINGLE:
    case NM_WILDCARD:
        if (c->fold_case)
            pn_sql(q, c->key, c->value);
        else
            /* as query.c decided: a number key takes "2*" literally */
            text_sql(q, col, c->value, 0, c->match == NM_WILDCARD);
        break;
    case NM_RANGE:
        /* PS3.4 C.2.2.2.5: "-<date1>" matches "all occurrences of dates
         * prior to and including <date1>", and so on; an empty value is no
         * date (or time), so it matches no range, open or closed. Compared
         * as text, '' came before every date: "-19000101" matched every
         * study without a date while "19000101-20300101" did not. The
         * stored value (expr, not the normalised time) is tested, with
         * "> ''" so that an upper bound alone stays an index range. */
        put(q, "(");
        put(q, keys[c->key].expr);
        put(q, " > ''");
        if (c->lo && *c->lo) {
            put(q, " AND ");
            put(q, col);
            put(q, " >= ");
            param(q, c->lo);
        }
        if (c->hi && *c->hi) {
            put(q, " AND ");
            put(q, col);
            put(q, " <= ");
            param(q, c->hi);
        }
        put(q, ")");
        break;
    case NM_LIST:
        put(q, col);
        put(q, " IN (");
        for (size_t i = 0; i < c->n_values; i++) {
            if (i)
                put(q, ", ");
            param(q, c->values[i]);
        }
        if (c->n_values == 0)
            put(q, "NULL");
        put(q, ")");
        break;
    }
    if (in_study_series)
        put(q, ")");
}

int nd_index_find(nd_index *ix, enum nd_level level,
                  const struct nd_cond *conds, size_t n_conds,
                  const unsigned char want[NK_COUNT],
                  int (*fn)(void *user, const char *const *vals),
                  void *user)
{
    static const char *const from[] = {
        [ND_PATIENT] = " FROM patients p",
        [ND_STUDY] = " FROM studies st JOIN patients p ON st.patient = p.id",
        [ND_SERIES] = " FROM series se JOIN studies st ON se.study = st.id"
                      " JOIN patients p ON st.patient = p.id",
        [ND_IMAGE] = " FROM instances i JOIN series se ON i.series = se.id"
                     " JOIN studies st ON se.study = st.id"
                     " JOIN patients p ON st.patient = p.id",
    };
    static const char *const order[] = {
        [ND_PATIENT] = " ORDER BY p.name, p.patient_id",
        [ND_STUDY] = " ORDER BY st.study_date, st.study_time, st.id",
        [ND_SERIES] = " ORDER BY st.id, se.series_number, se.id",
        [ND_IMAGE] = " ORDER BY se.id, i.instance_number, i.id",
    };
    struct sql q = {0};
    /* UID lists of a C-MOVE can be long: one parameter per UID; a Person
     * Name takes one per component group, and owns its split copy and a
     * pattern per group */
    size_t np = 8;
    for (size_t i = 0; i < n_conds; i++)
        np += 3 + conds[i].n_values;
    if (np > 32000) /* SQLite's limit on parameters is 32766 */
        return ND_EINDEX;
    q.params = calloc(np, sizeof *q.params);
    q.owned = calloc(4 * n_conds + 1, sizeof *q.owned);
    q.max_params = (int)np;
    q.max_owned = 4 * (int)n_conds + 1;
    if (!q.params || !q.owned) {
        free(q.params);
        free(q.owned);
        return ND_ENOMEM;
    }
    int cols[NK_COUNT], ncols = 0;
    put(&q, "SELECT ");
    for (int k = 0; k < NK_COUNT; k++) {
        cols[k] = -1;
        if (keys[k].level > level)
            continue;
        /* counts and the modality list cost subqueries: only on request */
        if (!keys[k].match && keys[k].level != ND_IMAGE && !want[k])
            continue;
        if (k == NK_MODALITIES_IN_STUDY && !want[k])
            continue;
        if (ncols)
            put(&q, ", ");
        put(&q, keys[k].expr);
        cols[k] = ncols++;
    }
    put(&q, from[level]);
    put(&q, " WHERE 1");
    for (size_t i = 0; i < n_conds; i++)
        if (keys[conds[i].key].match && keys[conds[i].key].level <= level)
            cond_sql(&q, &conds[i]);
    put(&q, order[level]);
    int rc = ND_EINDEX;
    sqlite3_stmt *s = NULL;
    if (!q.oom && sqlite3_prepare_v2(ix->db, q.s, -1, &s, NULL) == SQLITE_OK) {
        for (int i = 0; i < q.n_params; i++) /* texts, never NULL */
            sqlite3_bind_text(s, i + 1, q.params[i], -1, SQLITE_STATIC);
        const char *vals[NK_COUNT];
        int st;
        rc = 0;
        while (rc == 0 && (st = sqlite3_step(s)) == SQLITE_ROW) {
            for (int k = 0; k < NK_COUNT; k++)
                vals[k] = cols[k] >= 0 ? nd_sql_col(s, cols[k]) : "";
            rc = fn(user, vals);
        }
        if (rc == 0 && st != SQLITE_DONE)
            rc = ND_EINDEX;
    }
    sqlite3_finalize(s);
    for (int i = 0; i < q.n_owned; i++)
        free(q.owned[i]);
    free(q.owned);
    free(q.params);
    free(q.s);
    return rc;
}
