/* gl_int.h - GL helpers shared by the render files. */
#ifndef RND_GL_INT_H
#define RND_GL_INT_H

#include <epoxy/gl.h>
#include <stddef.h>

/* Compiles and links a vertex + fragment shader pair; 0 and err on
 * failure. */
GLuint rnd_gl_program(const char *vs, const char *fs, char *err,
                      size_t errlen);

#endif
