// media.cc - the DICOMDIR of a PS3.10 media folder (dcx/media.h), through
// DCMTK's DicomDirInterface: the machinery of dcmmkdir, with its checks of
// each file against the application profile.

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcddirif.h"

#include <string>
#include <sys/stat.h>

#include "ds_int.hh"
#include "shim.h"

extern "C" {
#include "dcx/media.h"
}

extern "C" int dcx_dicomdir_write(const char *dir, const char *const *rel,
                                  size_t n, const char *fileset_id, int j2k,
                                  struct dcx_error *e)
{
    try {
        DicomDirInterface dd;
        const DicomDirInterface::E_ApplicationProfile profile =
            j2k ? DicomDirInterface::AP_USBandFlashJPEG2000
                : DicomDirInterface::AP_GeneralPurpose;
        std::string path = std::string(dir) + "/DICOMDIR";
        struct stat st;
        OFCondition c =
            stat(path.c_str(), &st) == 0
                ? dd.appendToDicomDir(profile, path.c_str())
                : dd.createNewDicomDir(profile, path.c_str(),
                                       fileset_id ? fileset_id : "");
        if (c.bad()) {
            dcx_err_set(e, "%s: %s", path.c_str(), c.text());
            return DCX_EIO;
        }
        dd.disableBackupMode(OFTrue);
        for (size_t i = 0; i < n; i++) {
            c = dd.addDicomFile(rel[i], dir);
            if (c.bad()) {
                dcx_err_set(e, "%s/%s does not fit the DICOMDIR: %s", dir,
                            rel[i], c.text());
                return DCX_EBADDATA;
            }
        }
        c = dd.writeDicomDir();
        if (c.bad()) {
            dcx_err_set(e, "%s: %s", path.c_str(), c.text());
            return DCX_EIO;
        }
        return 0;
    } catch (...) {
        dcx_err_set(e, "unexpected error writing %s/DICOMDIR", dir);
        return DCX_EINTERNAL;
    }
}
