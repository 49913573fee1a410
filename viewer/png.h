/* png.h - writing screenshots (libpng). */
#ifndef VW_PNG_H
#define VW_PNG_H

#include <stddef.h>
#include <stdint.h>

/* Writes w x h RGB (rows top to bottom) to path. 0 or -1 with err. */
int vw_png_write(const char *path, const uint8_t *rgb, int w, int h,
                 char *err, size_t errlen);

#endif
