/* t.h - minimal CHECK macros for the C unit tests: count failures, keep
 * going, exit 1 if any failed (77 = skip, for ctest SKIP_RETURN_CODE). */
#ifndef T_H
#define T_H
#include <stdio.h>
#include <string.h>

static int t_failed, t_passed;
#define CHECK(cond)                                                        \
    do {                                                                   \
        if (cond) {                                                        \
            t_passed++;                                                    \
        } else {                                                           \
            t_failed++;                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__,       \
                    __LINE__, #cond);                                      \
        }                                                                  \
    } while (0)
#define CHECK_STR(a, b) CHECK(strcmp((a), (b)) == 0)
#define T_DONE()                                                           \
    (printf("%d passed, %d failed\n", t_passed, t_failed),                 \
     t_failed ? 1 : 0)
#endif
