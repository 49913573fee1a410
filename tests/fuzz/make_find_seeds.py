#!/usr/bin/python3
"""Seeds for fuzz_find: C-FIND identifiers as they arrive in a C-FIND
(bare data sets, implicit and explicit VR little endian), each preceded by
the harness's steering byte (bit 0: Patient Root model).

usage: make_find_seeds.py OUTDIR
"""

import os
import sys
import warnings

from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset

QUERIES = [
    # (patient root, level, {keyword: value})
    (0, "STUDY", {"PatientName": "WANG*", "StudyInstanceUID": "", "StudyDate": ""}),
    (0, "STUDY", {"PatientName": "wang^wei", "ModalitiesInStudy": "CT\\US"}),
    (0, "STUDY", {"StudyDate": "20240101-20240315", "StudyTime": "0800-1200"}),
    (0, "STUDY", {"StudyDate": "-20000101", "AccessionNumber": "ACC?"}),
    (0, "STUDY", {"StudyInstanceUID": "1.2.826.0.1.0\\1.2.826.0.1.3", "PatientID": "P%5"}),
    (0, "SERIES", {"StudyInstanceUID": "1.2.826.0.1.1", "Modality": "C*", "SeriesNumber": "2"}),
    (0, "SERIES", {"SeriesDescription": "Chest [AP]", "BodyPartExamined": "CH*"}),
    (0, "IMAGE", {"SeriesInstanceUID": "1.2.826.0.1.1.2", "InstanceNumber": "3",
                  "SOPClassUID": "1.2.840.10008.5.1.4.1.1.2"}),
    (0, "IMAGE", {"SOPInstanceUID": "", "Rows": "", "NumberOfFrames": ""}),
    (1, "PATIENT", {"PatientID": "P_4", "PatientName": "", "NumberOfPatientRelatedStudies": ""}),
    (1, "PATIENT", {"PatientName": "A%B_C\\\\D*", "PatientBirthDate": "19700101"}),
    (1, "STUDY", {"PatientID": "P[6]", "ReferringPhysicianName": "DR^*"}),
]


def encode(patient_root, level, keys, implicit, charset=None):
    ds = Dataset()
    if charset:
        ds.SpecificCharacterSet = charset
    ds.QueryRetrieveLevel = level
    for k, v in keys.items():
        setattr(ds, k, v)
    buf = DicomBytesIO()
    buf.is_little_endian = True
    buf.is_implicit_VR = implicit
    write_dataset(buf, ds)
    return bytes([patient_root]) + buf.getvalue()


def main():
    warnings.simplefilter("ignore")  # wildcards are not valid CS values
    if len(sys.argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    n = 0
    for i, (pr, level, keys) in enumerate(QUERIES):
        for implicit in (True, False):
            with open(os.path.join(out, "q%02d-%s.bin" % (i, "ivr" if implicit else "evr")),
                      "wb") as f:
                f.write(encode(pr, level, keys, implicit))
            n += 1
    # Chinese names in the character sets county systems send
    for cs, name in (("GB18030", "王*"), ("ISO_IR 192", "Wang^Wei=王^伟"),
                     ("\\ISO 2022 IR 58", "Wang^Wei=王^伟"), ("ISO_IR 100", "M?LLER"),
                     ("ISO_IR 192", "=王*"), ("GB18030", "wang*=王^伟")):
        ds_keys = {"PatientName": name, "StudyInstanceUID": ""}
        with open(os.path.join(out, "cs-%d.bin" % n), "wb") as f:
            f.write(encode(0, "STUDY", ds_keys, False, cs))
        n += 1
    print("%d seed(s) in %s" % (n, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
