// ds_int.hh - the C++ definition of dcx_ds / dcx_item, shared by the shim
// files in this folder only. Never included from C.
#ifndef DCX_DS_INT_HH
#define DCX_DS_INT_HH

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmdata/dcspchrs.h"
#include "dcmtk/dcmdata/dcfcache.h"
#include "dcmtk/dcmdata/dcistrmb.h"
#include "dcmtk/dcmdata/dcpxitem.h"

#include <deque>
#include <map>
#include <memory>
#include <string>

extern "C" {
#include "dcx/dataset.h"
}

struct dcx_item {
    DcmItem *item;
    dcx_ds *ds;
};

struct dcx_ds {
    DcmFileFormat ff;
    E_TransferSyntax xfer = EXS_Unknown;
    std::string ts_uid;
    std::string charset;        // effective, DICOM defined term(s)
    bool charset_guessed = false;
    bool conv_identity = true;  // ASCII / UTF-8: no conversion needed
    bool iso2022 = false;       // multi-byte code extensions: iso2022.c
    std::unique_ptr<DcmSpecificCharacterSet> conv;
    std::string err;
    dcx_item root{nullptr, nullptr};
    std::deque<dcx_item> items;               // stable addresses
    std::map<DcmItem *, dcx_item *> item_of;  // one wrapper per DcmItem
    DcmFileCache cache;                       // open file for lazy values
    DcmPixelSequence *pixseq = nullptr;       // cached by codec.cc
    bool no_pixels = false;
    void *pixel_state = nullptr;              // owned by pixel.c
    int memfd = -1; // dcx_ds_open_mem's file: DCMTK re-reads (lazily,
                    // and after compact()ing decoded fragments) by path
    void (*pixel_free)(void *) = nullptr;
};

// A dcx_ds over a copy of d (a data set received over the network), with
// its character set resolved. DCX_EBADDATA if it is empty.
int dcx_ds_adopt(DcmDataset *d, dcx_ds **out, struct dcx_error *e);

// Maps a DCMTK condition to a DCX_E* code; the one place that does so.
int dcx_from_ofcondition(const OFCondition &c);

/* Zeroes the pad byte DCMTK's JPEG/JPEG-LS encoders leave unset after an
 * odd-length frame of d's representation x (see dataset.cc): encoding the
 * same image twice then gives the same bytes. */
class DcmRepresentationParameter;
// Saves a document the shim built (GSPS, KO, SR) as Part 10, explicit VR
// little endian with a new meta header; its SOP Instance UID into out_uid
// (may be NULL). 0 or DCX_EIO with e.
int dcx_shim_save_part10(DcmFileFormat *f, const char *path,
                         char out_uid[65], struct dcx_error *e);

void dcx_zero_jpeg_padding(DcmDataset *d, E_TransferSyntax x,
                           const DcmRepresentationParameter *param);

// The values of keys[0..n) as the file at path holds them, as UTF-8
// (read through dcx, which converts GB18030 and ISO 2022 IR 58 and
// guesses undeclared sets), into out, inserted or replaced: a state or
// report written in UTF-8 that copies text from an image in another set.
// A key the file lacks, or a value over 1 KB, is left as out has it. 0,
// or DCX_E* with e.
int dcx_copy_text_utf8(const char *path, const DcmTagKey *keys, size_t n,
                       DcmItem *out, struct dcx_error *e);

#endif
