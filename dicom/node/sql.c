/* sql.c - the statement helpers of index_int.h. */
#include "index_int.h"

#include "nd.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

static void vbind(sqlite3_stmt *s, const char *fmt, va_list ap)
{
    for (int i = 1; fmt && *fmt; fmt++, i++) {
        switch (*fmt) {
        case 't': {
            const char *v = va_arg(ap, const char *);
            sqlite3_bind_text(s, i, v ? v : "", -1, SQLITE_STATIC);
            break;
        }
        case 'i':
            sqlite3_bind_int(s, i, va_arg(ap, int));
            break;
        case 'I':
            sqlite3_bind_int64(s, i, va_arg(ap, int64_t));
            break;
        case 'o': {
            int64_t v = va_arg(ap, int64_t);
            if (v < 0)
                sqlite3_bind_null(s, i);
            else
                sqlite3_bind_int64(s, i, v);
            break;
        }
        default: /* a programming error: leave the parameter NULL */
            break;
        }
    }
}

void nd_sql_bind(sqlite3_stmt *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vbind(s, fmt, ap);
    va_end(ap);
}

sqlite3_stmt *nd_sql(nd_index *ix, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(nd_index_db(ix), sql, -1, &s, NULL) != SQLITE_OK) {
        sqlite3_finalize(s);
        return NULL;
    }
    va_list ap;
    va_start(ap, fmt);
    vbind(s, fmt, ap);
    va_end(ap);
    return s;
}

int nd_sql_run(nd_index *ix, int *changes, const char *sql, const char *fmt,
               ...)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(nd_index_db(ix), sql, -1, &s, NULL) != SQLITE_OK) {
        sqlite3_finalize(s);
        return sqlite3_errcode(nd_index_db(ix));
    }
    va_list ap;
    va_start(ap, fmt);
    vbind(s, fmt, ap);
    va_end(ap);
    int rc = sqlite3_step(s);
    if (changes)
        *changes = sqlite3_changes(nd_index_db(ix));
    /* finalize keeps the step's error as the connection's */
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

const char *nd_sql_col(sqlite3_stmt *s, int i)
{
    const unsigned char *v = sqlite3_column_text(s, i);
    return v ? (const char *)v : "";
}

void nd_sql_col_copy(sqlite3_stmt *s, int i, char *out, size_t len)
{
    snprintf(out, len, "%s", nd_sql_col(s, i));
}

int nd_sql_begin(nd_index *ix)
{
    return sqlite3_exec(nd_index_db(ix), "BEGIN IMMEDIATE", NULL, NULL, NULL);
}

int nd_sql_commit(nd_index *ix)
{
    return sqlite3_exec(nd_index_db(ix), "COMMIT", NULL, NULL, NULL);
}

int nd_sql_err(nd_index *ix)
{
    sqlite3 *db = nd_index_db(ix);
    int code = sqlite3_extended_errcode(db) & 0xFF;
    nd_index_set_err(ix, sqlite3_errmsg(db));
    return code == SQLITE_FULL || code == SQLITE_IOERR ? ND_EFULL : ND_EINDEX;
}

int nd_sql_fail(nd_index *ix)
{
    int rc = nd_sql_err(ix); /* before the rollback resets the error */
    sqlite3 *db = nd_index_db(ix);
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}
