/* index_int.h - what the index's other SQL files (queue.c) share with
 * index.c: the connection of a handle and its error text. */
#ifndef ND_INDEX_INT_H
#define ND_INDEX_INT_H

#include <sqlite3.h>

#include "index.h"

sqlite3 *nd_index_db(nd_index *ix);
void nd_index_set_err(nd_index *ix, const char *msg);

#endif
