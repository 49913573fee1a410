/* index_int.h - what the index's SQL files (index.c, queue.c, teaching.c)
 * share: the connection of a handle, its error text, and the few helpers
 * (sql.c) that every one-off statement goes through, so that binding,
 * error text and rollback are written once. */
#ifndef ND_INDEX_INT_H
#define ND_INDEX_INT_H

#include <sqlite3.h>
#include <stddef.h>

#include "index.h"

sqlite3 *nd_index_db(nd_index *ix);
void nd_index_set_err(nd_index *ix, const char *msg);

/* Binds ?1, ?2, ... of s from fmt, one letter a parameter: 't' text
 * (const char *, NULL binds ''), 'i' int, 'I' int64_t, 'o' int64_t that
 * binds NULL when negative (an absent number). */
void nd_sql_bind(sqlite3_stmt *s, const char *fmt, ...);

/* sql prepared on ix's connection with its parameters bound as by
 * nd_sql_bind; NULL on error (then nd_sql_fail tells). */
sqlite3_stmt *nd_sql(nd_index *ix, const char *sql, const char *fmt, ...);

/* Runs a statement that returns no rows and finalizes it: SQLITE_OK or
 * the error code; *changes (if asked) is the rows it changed. */
int nd_sql_run(nd_index *ix, int *changes, const char *sql, const char *fmt,
               ...);

/* Column i as text, "" for NULL; copied into out[len]. */
const char *nd_sql_col(sqlite3_stmt *s, int i);
void nd_sql_col_copy(sqlite3_stmt *s, int i, char *out, size_t len);

/* BEGIN IMMEDIATE (the write lock at once, so no deadlock upgrading a
 * read) and COMMIT: SQLITE_OK or the error code. */
int nd_sql_begin(nd_index *ix);
int nd_sql_commit(nd_index *ix);

/* After a failed statement: the index's error text from the connection,
 * an open transaction rolled back; ND_EFULL for a full disk or an I/O
 * error (the caller may retry later), else ND_EINDEX. Functions that run
 * inside a caller's transaction use nd_sql_err instead, which only sets
 * the text and maps the code. */
int nd_sql_fail(nd_index *ix);
int nd_sql_err(nd_index *ix);

#endif
