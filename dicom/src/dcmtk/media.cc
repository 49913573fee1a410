// media.cc - the DICOMDIR of a PS3.10 media folder (dcx/media.h): written
// through DCMTK's DicomDirInterface (the machinery of dcmmkdir, with its
// checks of each file against the application profile), read through
// DcmDicomDir's record tree.

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcddirif.h"
#include "dcmtk/dcmdata/dcdicdir.h"

#include <string>
#include <cerrno>
#include <cstring>
#include <sys/stat.h>

#include "ds_int.hh"
#include "shim.h"

extern "C" {
#include "dcx/media.h"
}

extern "C" int dcx_dicomdir_write(const char *dir, const char *const *rel,
                                  size_t n, const char *fileset_id, int j2k,
                                  unsigned char *out_added,
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
        size_t added = 0;
        for (size_t i = 0; i < n; i++) {
            c = dd.addDicomFile(rel[i], dir);
            if (out_added)
                out_added[i] = c.good();
            added += c.good();
            if (c.bad() && added == 0)
                dcx_err_set(e, "%s/%s does not fit the DICOMDIR: %s", dir,
                            rel[i], c.text());
        }
        if (added == 0 && n > 0)
            return DCX_EBADDATA;
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

namespace {

std::string get(DcmItem *it, const DcmTagKey &k)
{
    OFString v;
    if (it->findAndGetOFStringArray(k, v).bad())
        return "";
    std::string s = v.c_str();
    while (!s.empty() && s.back() == ' ')
        s.pop_back();
    return s;
}

int walk(DcmDirectoryRecord *parent, int depth,
         int (*fn)(void *, const struct dcx_dir_record *), void *user)
{
    for (unsigned long i = 0; i < parent->cardSub(); i++) {
        DcmDirectoryRecord *r = parent->getSub(i);
        if (!r)
            continue;
        // a record may name its own character set; text goes out as
        // UTF-8 where it converts
        r->convertToUTF8();
        std::string file = get(r, DCM_ReferencedFileID);
        for (char &c : file)
            if (c == '\\')
                c = '/';
        const std::string type = get(r, DCM_DirectoryRecordType),
                          cls = get(r, DCM_ReferencedSOPClassUIDInFile),
                          pn = get(r, DCM_PatientName),
                          pid = get(r, DCM_PatientID),
                          st = get(r, DCM_StudyInstanceUID),
                          sd = get(r, DCM_StudyDate),
                          stt = get(r, DCM_StudyTime),
                          desc = get(r, DCM_StudyDescription),
                          mod = get(r, DCM_Modality);
        struct dcx_dir_record rec = {
            type.c_str(), depth,      file.c_str(), cls.c_str(),
            pn.c_str(),   pid.c_str(), st.c_str(),  sd.c_str(),
            stt.c_str(),  desc.c_str(), mod.c_str()};
        int rc = fn(user, &rec);
        if (rc == 0)
            rc = walk(r, depth + 1, fn, user);
        if (rc)
            return rc;
    }
    return 0;
}

} // namespace

extern "C" int dcx_dicomdir_read(const char *path,
                                 int (*fn)(void *,
                                           const struct dcx_dir_record *),
                                 void *user, struct dcx_error *e)
{
    try {
        struct stat st;
        if (stat(path, &st) != 0) {
            dcx_err_set(e, "%s: %s", path, strerror(errno));
            return DCX_EIO;
        }
        DcmDicomDir dir(path);
        if (dir.error().bad()) {
            dcx_err_set(e, "%s: %s", path, dir.error().text());
            return DCX_EBADDATA;
        }
        return walk(&dir.getRootRecord(), 0, fn, user);
    } catch (...) {
        dcx_err_set(e, "unexpected error reading %s", path);
        return DCX_EINTERNAL;
    }
}
