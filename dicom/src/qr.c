/* qr.c - presentation contexts for retrieving (C-GET): one list for the
 * node's `get` and the viewer's study browser. */
#include "dcx/net.h"
#include "dcx/uids.h"

static const char *const plain_ts[] = {DCX_TS_EXPLICIT_LE, DCX_TS_IMPLICIT_LE};

static const char *const image_classes[] = {
    "1.2.840.10008.5.1.4.1.1.2",     /* CT */
    "1.2.840.10008.5.1.4.1.1.4",     /* MR */
    "1.2.840.10008.5.1.4.1.1.1",     /* CR */
    "1.2.840.10008.5.1.4.1.1.1.1",   /* DX for presentation */
    "1.2.840.10008.5.1.4.1.1.1.1.1", /* DX for processing */
    "1.2.840.10008.5.1.4.1.1.1.2",   /* MG for presentation */
    "1.2.840.10008.5.1.4.1.1.6.1",   /* US */
    "1.2.840.10008.5.1.4.1.1.3.1",   /* US multi-frame */
    "1.2.840.10008.5.1.4.1.1.7",     /* secondary capture */
    "1.2.840.10008.5.1.4.1.1.12.1",  /* XA */
    "1.2.840.10008.5.1.4.1.1.20",    /* NM */
    "1.2.840.10008.5.1.4.1.1.128",   /* PET */
    "1.2.840.10008.5.1.4.1.1.2.1",   /* enhanced CT */
    "1.2.840.10008.5.1.4.1.1.4.1",   /* enhanced MR */
};

/* documents are never compressed: plain syntaxes only, which keeps the
 * association within its 128 presentation contexts */
static const char *const doc_classes[] = {
    "1.2.840.10008.5.1.4.1.1.11.1",  /* GSPS */
    "1.2.840.10008.5.1.4.1.1.88.11", /* basic text SR */
    "1.2.840.10008.5.1.4.1.1.88.22", /* enhanced SR */
    "1.2.840.10008.5.1.4.1.1.88.33", /* comprehensive SR (measurements) */
    "1.2.840.10008.5.1.4.1.1.88.59", /* key object selection */
    "1.2.840.10008.5.1.4.1.1.104.1", /* encapsulated PDF */
};

/* each compressed syntax in a context of its own, so that the peer can
 * send an instance as it stored it */
static const char *const get_ts[][1] = {
    {DCX_TS_JPEG_LOSSLESS_SV1}, {DCX_TS_JPEGLS_LOSSLESS}, {DCX_TS_J2K_LOSSLESS},
    {DCX_TS_JPEG_BASELINE},     {DCX_TS_RLE},             {DCX_TS_DEFLATED_LE},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

size_t dcx_scu_get_contexts(const char *model, struct dcx_scu_context *out,
                            size_t max)
{
    size_t n = 0;
    if (n < max)
        out[n++] = (struct dcx_scu_context){model, plain_ts, 2, 0};
    for (size_t i = 0; i < COUNT(image_classes) && n < max; i++)
        out[n++] = (struct dcx_scu_context){image_classes[i], plain_ts, 2,
                                            DCX_SCU_ROLE_SCP};
    for (size_t i = 0; i < COUNT(doc_classes) && n < max; i++)
        out[n++] = (struct dcx_scu_context){doc_classes[i], plain_ts, 2,
                                            DCX_SCU_ROLE_SCP};
    for (size_t t = 0; t < COUNT(get_ts); t++)
        for (size_t i = 0; i < COUNT(image_classes) && n < max; i++)
            out[n++] = (struct dcx_scu_context){image_classes[i], get_ts[t],
                                                1, DCX_SCU_ROLE_SCP};
    return n;
}
