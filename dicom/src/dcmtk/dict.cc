// dict.cc - fills DCMTK's global data dictionary from the table that
// consort-mkdict generated at build time (see mkdict.cc for why), instead of
// letting DCMTK parse the text dictionary in every process.
//
// An operator's DCMDICTPATH is honoured: then DCMTK loads those files as
// usual and the table is not used. Runs once from dcx_init(), before any
// thread starts (it touches the environment).

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdict.h"
#include "dcmtk/dcmdata/dcdicent.h"

#include <cstdlib>

#include "dict_int.hh"

namespace {

struct dict_row {
    Uint16 g, e, ug, ue;
    int evr, grr, err, vm_min, vm_max;
    const char *name, *version, *creator;
};

const dict_row rows[] = {
#include "dict_gen.inc"
};

} // namespace

bool dcx_dict_load_builtin()
{
    const char *user = std::getenv(DCM_DICT_ENVIRONMENT_VARIABLE);
    if (user && *user)
        return false;
    // An empty external dictionary: DCMTK then builds only its skeleton
    // (item and sequence delimiters) when the singleton is first used.
    if (setenv(DCM_DICT_ENVIRONMENT_VARIABLE, "/dev/null", 1) != 0)
        return false;
    DcmDataDictionary &d = dcmDataDict.wrlock();
    for (const dict_row &r : rows) {
        // Strings are static: not copied, not freed by the entry.
        DcmDictEntry *e = new DcmDictEntry(
            r.g, r.e, r.ug, r.ue, DcmVR(static_cast<DcmEVR>(r.evr)), r.name,
            r.vm_min, r.vm_max, r.version, OFFalse, r.creator);
        e->setGroupRangeRestriction(
            static_cast<DcmDictRangeRestriction>(r.grr));
        e->setElementRangeRestriction(
            static_cast<DcmDictRangeRestriction>(r.err));
        d.addEntry(e);
    }
    dcmDataDict.wrunlock();
    unsetenv(DCM_DICT_ENVIRONMENT_VARIABLE);
    return true;
}
