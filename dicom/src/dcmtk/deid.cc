// deid.cc - de-identification of one instance (dcx/media.h) per PS3.15
// E.1: the Basic Application Level Confidentiality Profile with the
// Retain Longitudinal Temporal Information with Modified Dates, Clean
// Descriptors, Clean Graphics and Clean Structured Content options (and
// Retain Patient Characteristics on request). The attribute table below
// covers Table E.1-1's entries that occur in imaging objects; rules by VR
// catch what it does not name (every PN, AE and UR goes, every UID outside
// the DICOM root is replaced, every date is shifted, private and overlay
// groups go), so an attribute missing from the table is still cleaned.

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "ds_int.hh"
#include "shim.h"

extern "C" {
#include "dcx/media.h"
}

namespace {

// Where the profile allows X or Z (X/Z, X/Z/D), Z: an empty value is as
// safe and keeps IODs that make the attribute Type 2 valid (Operators'
// Name in the RT Series module, say).
enum action {
    A_X,        // remove
    A_Z,        // empty value (an empty sequence)
    A_DUMMY,    // "ANONYMOUS" (PN and text that must have a value)
    A_CLEAN,    // keep: text with identifiers struck out, items cleaned
    A_NAME,     // the patient's pseudonym
    A_ID,       // the patient's pseudonymous ID
    A_STUDY_ID, // a dummy (Type 1 in a DICOMDIR)
    A_CHAR_Z,   // a patient characteristic: empty unless kept
    A_CHAR_X,   // a patient characteristic: removed unless kept
};

struct rule {
    uint32_t tag;
    action a;
};

#define T(g, e) ((uint32_t)(g) << 16 | (e))

// Sorted by tag (checked on first use). Dates are not listed: every DA and
// DT is shifted (the Modified Dates option), the birth date emptied.
const rule rules[] = {
    {T(0x0008, 0x0015), A_X},     // Instance Coercion DateTime
    {T(0x0008, 0x0050), A_Z},     // Accession Number
    {T(0x0008, 0x0054), A_X},     // Retrieve AE Title
    {T(0x0008, 0x0055), A_X},     // Station AE Title
    {T(0x0008, 0x0080), A_DUMMY}, // Institution Name (Type 1 in Enhanced
                                  // General Equipment)
    {T(0x0008, 0x0081), A_X},     // Institution Address
    {T(0x0008, 0x0082), A_Z},     // Institution Code Sequence
    {T(0x0008, 0x0090), A_Z},     // Referring Physician's Name
    {T(0x0008, 0x0092), A_X},     // Referring Physician's Address
    {T(0x0008, 0x0094), A_X},     // Referring Physician's Telephone
    {T(0x0008, 0x0096), A_X},     // Referring Physician Identification
    {T(0x0008, 0x009C), A_Z},     // Consulting Physician's Name
    {T(0x0008, 0x009D), A_X},     // Consulting Physician Identification
    {T(0x0008, 0x0201), A_X},     // Timezone Offset From UTC
    {T(0x0008, 0x1000), A_X},     // Network ID
    {T(0x0008, 0x1010), A_Z},     // Station Name
    {T(0x0008, 0x1030), A_CLEAN}, // Study Description
    {T(0x0008, 0x103E), A_CLEAN}, // Series Description
    {T(0x0008, 0x1040), A_X},     // Institutional Department Name
    {T(0x0008, 0x1041), A_X},     // Institutional Department Type
    {T(0x0008, 0x1048), A_X},     // Physician(s) of Record
    {T(0x0008, 0x1049), A_X},     // Physician(s) of Record Identification
    {T(0x0008, 0x1050), A_X},     // Performing Physician's Name
    {T(0x0008, 0x1052), A_X},     // Performing Physician Identification
    {T(0x0008, 0x1060), A_X},     // Name of Physician(s) Reading Study
    {T(0x0008, 0x1062), A_X},     // Physician(s) Reading Study Ident.
    {T(0x0008, 0x1070), A_Z},     // Operators' Name
    {T(0x0008, 0x1072), A_Z},     // Operator Identification Sequence
    {T(0x0008, 0x1080), A_X},     // Admitting Diagnoses Description
    {T(0x0008, 0x1084), A_X},     // Admitting Diagnoses Code Sequence
    {T(0x0008, 0x1110), A_Z},     // Referenced Study Sequence
    {T(0x0008, 0x1111), A_Z},     // Referenced Performed Procedure Step
    {T(0x0008, 0x1120), A_X},     // Referenced Patient Sequence
    {T(0x0008, 0x2111), A_X},     // Derivation Description
    {T(0x0008, 0x4000), A_X},     // Identifying Comments
    {T(0x0010, 0x0010), A_NAME},  // Patient's Name
    {T(0x0010, 0x0020), A_ID},    // Patient ID
    {T(0x0010, 0x0021), A_X},     // Issuer of Patient ID
    {T(0x0010, 0x0022), A_X},     // Type of Patient ID
    {T(0x0010, 0x0024), A_X},     // Issuer of Patient ID Qualifiers
    {T(0x0010, 0x0026), A_X},     // Source Patient Group Identification
    {T(0x0010, 0x0027), A_X},     // Group of Patients Identification Seq.
    {T(0x0010, 0x0030), A_Z},     // Patient's Birth Date
    {T(0x0010, 0x0032), A_X},     // Patient's Birth Time
    {T(0x0010, 0x0033), A_X},     // Birth Date in Alternative Calendar
    {T(0x0010, 0x0034), A_X},     // Death Date in Alternative Calendar
    {T(0x0010, 0x0035), A_X},     // Patient's Alternative Calendar
    {T(0x0010, 0x0040), A_CHAR_Z},// Patient's Sex
    {T(0x0010, 0x0050), A_X},     // Patient's Insurance Plan Code Seq.
    {T(0x0010, 0x0101), A_X},     // Patient's Primary Language Code Seq.
    {T(0x0010, 0x0102), A_X},     // ... Language Modifier Code Seq.
    {T(0x0010, 0x1000), A_X},     // Other Patient IDs
    {T(0x0010, 0x1001), A_X},     // Other Patient Names
    {T(0x0010, 0x1002), A_X},     // Other Patient IDs Sequence
    {T(0x0010, 0x1005), A_X},     // Patient's Birth Name
    {T(0x0010, 0x1010), A_CHAR_X},// Patient's Age
    {T(0x0010, 0x1020), A_CHAR_X},// Patient's Size
    {T(0x0010, 0x1030), A_CHAR_X},// Patient's Weight
    {T(0x0010, 0x1040), A_X},     // Patient's Address
    {T(0x0010, 0x1050), A_X},     // Insurance Plan Identification
    {T(0x0010, 0x1060), A_X},     // Patient's Mother's Birth Name
    {T(0x0010, 0x1080), A_X},     // Military Rank
    {T(0x0010, 0x1081), A_X},     // Branch of Service
    {T(0x0010, 0x1090), A_X},     // Medical Record Locator
    {T(0x0010, 0x1100), A_X},     // Referenced Patient Photo Sequence
    {T(0x0010, 0x2000), A_X},     // Medical Alerts
    {T(0x0010, 0x2110), A_X},     // Allergies
    {T(0x0010, 0x2150), A_X},     // Country of Residence
    {T(0x0010, 0x2152), A_X},     // Region of Residence
    {T(0x0010, 0x2154), A_X},     // Patient's Telephone Numbers
    {T(0x0010, 0x2155), A_X},     // Patient's Telecom Information
    {T(0x0010, 0x2160), A_X},     // Ethnic Group
    {T(0x0010, 0x2180), A_X},     // Occupation
    {T(0x0010, 0x21A0), A_CHAR_X},// Smoking Status
    {T(0x0010, 0x21B0), A_X},     // Additional Patient History
    {T(0x0010, 0x21C0), A_CHAR_X},// Pregnancy Status
    {T(0x0010, 0x21D0), A_X},     // Last Menstrual Date
    {T(0x0010, 0x21F0), A_X},     // Patient's Religious Preference
    {T(0x0010, 0x2203), A_X},     // Patient's Sex Neutered
    {T(0x0010, 0x2297), A_X},     // Responsible Person
    {T(0x0010, 0x2299), A_X},     // Responsible Organization
    {T(0x0010, 0x4000), A_X},     // Patient Comments
    {T(0x0016, 0x002B), A_X},     // Maker Note (Exif: serial numbers)
    {T(0x0016, 0x004B), A_X},     // Device Setting Description
    {T(0x0016, 0x004D), A_X},     // Camera Owner Name
    {T(0x0016, 0x0051), A_X},     // Lens Serial Number
    {T(0x0018, 0x1000), A_DUMMY}, // Device Serial Number (idem)
    {T(0x0018, 0x1003), A_X},     // Device ID (like the serial number)
    {T(0x0018, 0x1004), A_X},     // Plate ID
    {T(0x0018, 0x1005), A_X},     // Generator ID
    {T(0x0018, 0x1007), A_X},     // Cassette ID
    {T(0x0018, 0x1008), A_X},     // Gantry ID
    {T(0x0018, 0x1009), A_X},     // Unique Device Identifier
    {T(0x0018, 0x100A), A_X},     // UDI Sequence
    {T(0x0018, 0x4000), A_X},     // Acquisition Comments
    {T(0x0018, 0x5011), A_X},     // Transducer Identification Sequence
    {T(0x0018, 0x700A), A_Z},     // Detector ID
    {T(0x0018, 0x9367), A_X},     // X-Ray Source ID
    {T(0x0018, 0x9371), A_X},     // X-Ray Detector ID
    {T(0x0018, 0x9373), A_X},     // X-Ray Detector Label
    {T(0x0018, 0x9937), A_X},     // Requested Series Description
    {T(0x0020, 0x0010), A_STUDY_ID}, // Study ID
    {T(0x0020, 0x3401), A_X},     // Modifying Device ID
    {T(0x0020, 0x3406), A_X},     // Modified Image Description
    {T(0x0020, 0x4000), A_X},     // Image Comments
    {T(0x0020, 0x9158), A_X},     // Frame Comments
    {T(0x0028, 0x4000), A_X},     // Image Presentation Comments
    {T(0x0032, 0x0012), A_X},     // Study ID Issuer
    {T(0x0032, 0x1020), A_X},     // Scheduled Study Location
    {T(0x0032, 0x1021), A_X},     // Scheduled Study Location AE Title
    {T(0x0032, 0x1030), A_X},     // Reason for Study
    {T(0x0032, 0x1032), A_X},     // Requesting Physician
    {T(0x0032, 0x1033), A_X},     // Requesting Service
    {T(0x0032, 0x1034), A_X},     // Requesting Service Code Sequence
    {T(0x0032, 0x1060), A_Z},     // Requested Procedure Description
    {T(0x0032, 0x1066), A_X},     // Reason for Visit
    {T(0x0032, 0x1067), A_X},     // Reason for Visit Code Sequence
    {T(0x0032, 0x1070), A_X},     // Requested Contrast Agent
    {T(0x0032, 0x4000), A_X},     // Study Comments
    {T(0x0040, 0x0001), A_X},     // Scheduled Station AE Title
    {T(0x0040, 0x0006), A_X},     // Scheduled Performing Physician's Name
    {T(0x0040, 0x0007), A_X},     // Scheduled Procedure Step Description
    {T(0x0040, 0x0009), A_X},     // Scheduled Procedure Step ID
    {T(0x0040, 0x000B), A_X},     // Scheduled Performing Physician Ident.
    {T(0x0040, 0x0010), A_X},     // Scheduled Station Name
    {T(0x0040, 0x0011), A_X},     // Scheduled Procedure Step Location
    {T(0x0040, 0x0012), A_X},     // Pre-Medication
    {T(0x0040, 0x0241), A_X},     // Performed Station AE Title
    {T(0x0040, 0x0242), A_X},     // Performed Station Name
    {T(0x0040, 0x0243), A_X},     // Performed Location
    {T(0x0040, 0x0253), A_X},     // Performed Procedure Step ID
    {T(0x0040, 0x0254), A_X},     // Performed Procedure Step Description
    {T(0x0040, 0x0275), A_X},     // Request Attributes Sequence
    {T(0x0040, 0x0280), A_X},     // Comments on the Performed Proc. Step
    {T(0x0040, 0x0310), A_X},     // Comments on Radiation Dose
    {T(0x0040, 0x0400), A_X},     // Comments on the Scheduled Proc. Step
    {T(0x0040, 0x050A), A_X},     // Specimen Accession Number
    {T(0x0040, 0x0512), A_X},     // Container Identifier
    {T(0x0040, 0x0513), A_X},     // Issuer of the Container Identifier
    {T(0x0040, 0x0515), A_X},     // Alternate Container Identifier Seq.
    {T(0x0040, 0x0551), A_X},     // Specimen Identifier
    {T(0x0040, 0x0555), A_Z},     // Acquisition Context Sequence
    {T(0x0040, 0x0562), A_X},     // Issuer of the Specimen Identifier
    {T(0x0040, 0x0600), A_X},     // Specimen Short Description
    {T(0x0040, 0x0602), A_X},     // Specimen Detailed Description
    {T(0x0040, 0x0610), A_Z},     // Specimen Preparation Sequence
    {T(0x0040, 0x06FA), A_X},     // Slide Identifier
    {T(0x0040, 0x1001), A_Z},     // Requested Procedure ID (X; Type 2
                                  // in an SR's Referenced Request Seq.)
    {T(0x0040, 0x1002), A_X},     // Reason for the Requested Procedure
    {T(0x0040, 0x1004), A_X},     // Patient Transport Arrangements
    {T(0x0040, 0x1005), A_X},     // Requested Procedure Location
    {T(0x0040, 0x100A), A_X},     // Reason for Requested Procedure Code
    {T(0x0040, 0x1010), A_X},     // Names of Intended Recipients
    {T(0x0040, 0x1011), A_X},     // Intended Recipients Identification
    {T(0x0040, 0x1101), A_X},     // Person Identification Code Sequence
    {T(0x0040, 0x1102), A_X},     // Person's Address
    {T(0x0040, 0x1103), A_X},     // Person's Telephone Numbers
    {T(0x0040, 0x1104), A_X},     // Person's Telecom Information
    {T(0x0040, 0x1400), A_X},     // Requested Procedure Comments
    {T(0x0040, 0x2001), A_X},     // Reason for the Imaging Service Req.
    {T(0x0040, 0x2008), A_X},     // Order Entered By
    {T(0x0040, 0x2009), A_X},     // Order Enterer's Location
    {T(0x0040, 0x2010), A_X},     // Order Callback Phone Number
    {T(0x0040, 0x2011), A_X},     // Order Callback Telecom Information
    {T(0x0040, 0x2016), A_Z},     // Placer Order Number
    {T(0x0040, 0x2017), A_Z},     // Filler Order Number
    {T(0x0040, 0x2400), A_X},     // Imaging Service Request Comments
    {T(0x0040, 0x3001), A_X},     // Confidentiality Constraint on Patient
                                  // Data Description
    {T(0x0040, 0x4025), A_X},     // Scheduled Station Name Code Sequence
    {T(0x0040, 0x4027), A_X},     // Scheduled Station Geographic Loc.
    {T(0x0040, 0x4028), A_X},     // Performed Station Name Code Sequence
    {T(0x0040, 0x4030), A_X},     // Performed Station Geographic Loc.
    {T(0x0040, 0x4034), A_X},     // Scheduled Human Performers Sequence
    {T(0x0040, 0x4035), A_X},     // Actual Human Performers Sequence
    {T(0x0040, 0x4036), A_X},     // Human Performer's Organization
    {T(0x0040, 0x4037), A_X},     // Human Performer's Name
    {T(0x0040, 0xA027), A_DUMMY}, // Verifying Organization
    {T(0x0040, 0xA073), A_CLEAN}, // Verifying Observer Sequence
    {T(0x0040, 0xA075), A_DUMMY}, // Verifying Observer Name
    {T(0x0040, 0xA078), A_X},     // Author Observer Sequence
    {T(0x0040, 0xA07A), A_X},     // Participant Sequence
    {T(0x0040, 0xA07C), A_X},     // Custodial Organization Sequence
    {T(0x0040, 0xA088), A_Z},     // Verifying Observer Identification
    {T(0x0040, 0xA123), A_DUMMY}, // Person Name (SR PNAME items)
    {T(0x0040, 0xA352), A_X},     // Verbal Source (Trial)
    {T(0x0040, 0xA353), A_X},     // Address (Trial)
    {T(0x0040, 0xA354), A_X},     // Telephone Number (Trial)
    {T(0x0040, 0xA358), A_X},     // Verbal Source Identifier Code Seq.
    {T(0x0040, 0xA730), A_CLEAN}, // Content Sequence
    {T(0x0070, 0x0001), A_CLEAN}, // Graphic Annotation Sequence
    {T(0x0070, 0x0084), A_Z},     // Content Creator's Name
    {T(0x0070, 0x0086), A_X},     // Content Creator's Identification
    {T(0x0088, 0x0200), A_X},     // Icon Image Sequence
    {T(0x0088, 0x0904), A_X},     // Topic Title
    {T(0x0088, 0x0906), A_X},     // Topic Subject
    {T(0x0088, 0x0910), A_X},     // Topic Author
    {T(0x0088, 0x0912), A_X},     // Topic Keywords
    {T(0x0400, 0x0115), A_X},     // Certificate of Signer
    {T(0x0400, 0x0310), A_X},     // Certified Timestamp
    {T(0x0400, 0x0402), A_X},     // Referenced Digital Signature Seq.
    {T(0x0400, 0x0403), A_X},     // Referenced SOP Instance MAC Seq.
    {T(0x0400, 0x0404), A_X},     // MAC
    {T(0x0400, 0x0550), A_X},     // Modified Attributes Sequence
    {T(0x0400, 0x0551), A_X},     // Nonconforming Modified Attributes
    {T(0x0400, 0x0552), A_X},     // Nonconforming Data Element Value
    {T(0x0400, 0x0561), A_X},     // Original Attributes Sequence
    {T(0x0400, 0x0563), A_X},     // Modifying System
    {T(0x0400, 0x0564), A_X},     // Source of Previous Values
    {T(0x0400, 0x0565), A_X},     // Reason for the Attribute Modification
    {T(0x0400, 0x0600), A_X},     // Instance Origin Status
    {T(0x2030, 0x0020), A_X},     // Text String
    {T(0x2100, 0x0070), A_X},     // Originator
    {T(0x2100, 0x0140), A_X},     // Destination AE
    {T(0x2200, 0x0002), A_X},     // Label Text
    {T(0x2200, 0x0005), A_X},     // Barcode Value
    {T(0x4000, 0x0010), A_X},     // Arbitrary
    {T(0x4000, 0x4000), A_X},     // Text Comments
    {T(0xFFFA, 0xFFFA), A_X},     // Digital Signatures Sequence
    {T(0xFFFC, 0xFFFC), A_X},     // Data Set Trailing Padding
};

// UIDs that name a class, a coding scheme or a syntax, not an instance:
// kept even outside the DICOM root (a vendor's private SOP class).
const uint32_t class_uids[] = {
    T(0x0002, 0x0002), T(0x0002, 0x0010), T(0x0002, 0x0012),
    T(0x0004, 0x1510), T(0x0004, 0x1512), T(0x0008, 0x0016),
    T(0x0008, 0x001A), T(0x0008, 0x001B), T(0x0008, 0x010C),
    T(0x0008, 0x0117), T(0x0008, 0x0118), T(0x0008, 0x1150),
};

const rule *find_rule(uint32_t tag)
{
    const rule *end = rules + sizeof rules / sizeof rules[0];
    const rule *r = std::lower_bound(
        rules, end, tag, [](const rule &a, uint32_t t) { return a.tag < t; });
    return r != end && r->tag == tag ? r : nullptr;
}

bool is_class_uid(uint32_t tag)
{
    for (uint32_t t : class_uids)
        if (t == tag)
            return true;
    return false;
}

// ---- dates: proleptic Gregorian day numbers (days from 1970-01-01) ----

long days_from_civil(long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = static_cast<unsigned>(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<long>(doe) - 719468;
}

void civil_from_days(long z, long *y, unsigned *m, unsigned *d)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = static_cast<unsigned>(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = static_cast<long>(yoe) + era * 400 + (*m <= 2);
}

// "YYYYMMDD" (or the old "YYYY.MM.DD") shifted by days; "" if it is not
// a date (then it cannot be kept).
std::string shift_date(const std::string &v, int days)
{
    std::string s;
    for (char c : v)
        if (c >= '0' && c <= '9')
            s += c;
    if (s.size() != 8)
        return "";
    long y = std::stol(s.substr(0, 4));
    unsigned m = static_cast<unsigned>(std::stoul(s.substr(4, 2)));
    unsigned d = static_cast<unsigned>(std::stoul(s.substr(6, 2)));
    if (m < 1 || m > 12 || d < 1 || d > 31)
        return "";
    civil_from_days(days_from_civil(y, m, d) + days, &y, &m, &d);
    if (y < 1 || y > 9999)
        return "";
    char out[32];
    snprintf(out, sizeof out, "%04ld%02u%02u", y, m, d);
    return out;
}

std::vector<std::string> split(const std::string &s)
{
    std::vector<std::string> v;
    size_t a = 0;
    for (;;) {
        size_t b = s.find('\\', a);
        v.push_back(s.substr(a, b == std::string::npos ? b : b - a));
        if (b == std::string::npos)
            return v;
        a = b + 1;
    }
}

std::string join(const std::vector<std::string> &v)
{
    std::string s;
    for (size_t i = 0; i < v.size(); i++)
        s += (i ? "\\" : "") + v[i];
    return s;
}

std::string trim(const char *p)
{
    std::string s = p ? p : "";
    while (!s.empty() && (s.back() == ' ' || s.back() == '\0'))
        s.pop_back();
    size_t a = s.find_first_not_of(' ');
    return a == std::string::npos ? "" : s.substr(a);
}

size_t code_points(const std::string &s)
{
    size_t n = 0;
    for (unsigned char c : s)
        n += (c & 0xC0) != 0x80;
    return n;
}

struct ctx {
    const dcx_deid_opts *o;
    std::vector<std::string> idents; // struck out of kept text
    int removed = 0, changed = 0, pruned = 0;
    int err = 0;
    dcx_error *e;
};

void add_ident(ctx &c, const std::string &s, size_t min_chars)
{
    if (code_points(s) >= min_chars &&
        std::find(c.idents.begin(), c.idents.end(), s) == c.idents.end())
        c.idents.push_back(s);
}

// The forms a name group ("Wang^Wei", one of PN's '=' groups) takes in
// free text: whole, joined ("WangWei") and spaced ("Wang Wei"), in the
// DICOM order and given name first ("Wei Wang").
void add_name_group(ctx &c, const std::vector<std::string> &comps)
{
    std::string flat, spaced;
    for (const std::string &p : comps) {
        flat += p;
        spaced += (spaced.empty() ? "" : " ") + p;
    }
    add_ident(c, flat, 2);
    add_ident(c, spaced, 2);
    if (comps.size() >= 2) {
        add_ident(c, comps[1] + comps[0], 2);
        add_ident(c, comps[1] + " " + comps[0], 2);
    }
}

// What identifies the patient in free text: the name whole and by
// components of two or more characters (one Chinese character alone is
// too common to strike), the IDs, the accession number, the birth date.
void collect_idents(ctx &c, DcmDataset *ds)
{
    OFString v;
    if (ds->findAndGetOFStringArray(DCM_PatientName, v).good()) {
        std::string name = trim(v.c_str());
        std::vector<std::string> comps;
        std::string comp;
        for (size_t i = 0; i <= name.size(); i++) {
            char ch = i < name.size() ? name[i] : '=';
            if (ch == '^' || ch == '=') {
                comp = trim(comp.c_str());
                add_ident(c, comp, 2);
                if (!comp.empty())
                    comps.push_back(comp);
                if (ch == '=') {
                    add_name_group(c, comps);
                    comps.clear();
                }
                comp.clear();
            } else {
                comp += ch;
            }
        }
        add_ident(c, name, 2);
    }
    const DcmTagKey keys[] = {DCM_PatientID, DCM_AccessionNumber,
                              DCM_PatientBirthDate, DCM_RETIRED_OtherPatientIDs};
    for (const DcmTagKey &k : keys)
        if (ds->findAndGetOFStringArray(k, v).good())
            for (const std::string &s : split(v.c_str()))
                add_ident(c, trim(s.c_str()), 3);
    // longest first: "Wang Wei" before "Wang"
    std::sort(c.idents.begin(), c.idents.end(),
              [](const std::string &a, const std::string &b) {
                  return a.size() > b.size();
              });
}

bool ascii_alpha(unsigned char ch)
{
    return (ch | 0x20) >= 'a' && (ch | 0x20) <= 'z';
}

bool ascii_digit(unsigned char ch)
{
    return ch >= '0' && ch <= '9';
}

// True if a and b are the same ASCII letter or digit class, so that a
// match ending in a runs on into b ("Wei" in "Weight", "121" in "121071").
bool same_run(unsigned char a, unsigned char b)
{
    return (ascii_alpha(a) && ascii_alpha(b)) ||
           (ascii_digit(a) && ascii_digit(b));
}

// id found in s at p: ASCII letters compared without case (PN values are
// often upper case, "WANG^WEI", where a description says "Wang Wei"), and
// only as a whole word or number: not inside a longer one, so that "Wei"
// leaves "Weight" alone and an ID leaves a code value alone. Text other
// than ASCII (Chinese names) matches anywhere.
bool matches_at(const std::string &s, size_t p, const std::string &id)
{
    if (p + id.size() > s.size())
        return false;
    for (size_t k = 0; k < id.size(); k++) {
        unsigned char a = static_cast<unsigned char>(s[p + k]);
        unsigned char b = static_cast<unsigned char>(id[k]);
        if (a != b && !(ascii_alpha(a) && ascii_alpha(b) &&
                        (a | 0x20) == (b | 0x20)))
            return false;
    }
    unsigned char first = static_cast<unsigned char>(id.front());
    unsigned char last = static_cast<unsigned char>(id.back());
    if (p > 0 && same_run(static_cast<unsigned char>(s[p - 1]), first))
        return false;
    size_t end = p + id.size();
    return end >= s.size() ||
           !same_run(static_cast<unsigned char>(s[end]), last);
}

bool strike(const ctx &c, std::string &s)
{
    bool hit = false;
    for (const std::string &id : c.idents)
        for (size_t p = 0; p < s.size();) {
            if (!matches_at(s, p, id)) {
                p++;
                continue;
            }
            s.replace(p, id.size(), "***");
            hit = true;
            p += 3; // past the stars: an ID of stars cannot loop
        }
    return hit;
}

bool is_text_vr(DcmEVR vr)
{
    return vr == EVR_LO || vr == EVR_SH || vr == EVR_ST || vr == EVR_LT ||
           vr == EVR_UT || vr == EVR_UC;
}

// The parts of a coded entry that name it in its coding scheme (PS3.3
// 8.1-8.4): a code, not text, never struck ("TEST" stays a scheme even
// for a patient called Test). Its meaning is text and is cleaned.
bool is_code_tag(uint32_t tag)
{
    static const uint32_t codes[] = {
        T(0x0008, 0x0100), T(0x0008, 0x0102), T(0x0008, 0x0103),
        T(0x0008, 0x0105), T(0x0008, 0x010F), T(0x0008, 0x0119),
    };
    for (uint32_t t : codes)
        if (t == tag)
            return true;
    return false;
}

void put(ctx &c, DcmElement *el, const std::string &v)
{
    el->putString(v.c_str());
    c.changed++;
}

void clean_item(ctx &c, DcmItem *item);

void clean_items(ctx &c, DcmElement *el)
{
    auto *sq = static_cast<DcmSequenceOfItems *>(el);
    for (unsigned long i = 0; i < sq->card() && !c.err; i++)
        clean_item(c, sq->getItem(i));
}

void remap_uids(ctx &c, DcmElement *el)
{
    OFString v;
    if (el->getOFStringArray(v).bad() || v.empty())
        return;
    std::vector<std::string> vals = split(v.c_str());
    bool any = false;
    for (std::string &u : vals) {
        u = trim(u.c_str());
        if (u.empty() || u.compare(0, 14, "1.2.840.10008.") == 0)
            continue;
        char out[65];
        int rc = c.o->map_uid(c.o->user, u.c_str(), out);
        if (rc < 0) {
            dcx_err_set(c.e, "cannot map a UID: %s", dcx_strerror(rc));
            c.err = rc;
            return;
        }
        u = out;
        any = true;
    }
    if (any)
        put(c, el, join(vals));
}

void shift_dates(ctx &c, DcmElement *el, bool datetime)
{
    OFString v;
    if (el->getOFStringArray(v).bad() || v.empty())
        return;
    std::vector<std::string> vals = split(v.c_str());
    for (std::string &s : vals) {
        s = trim(s.c_str());
        if (s.empty())
            continue;
        // a DA may be the old "YYYY.MM.DD"; a DT's date is its first 8
        std::string date = shift_date(datetime ? s.substr(0, 8) : s,
                                      c.o->date_shift_days);
        // a DT keeps its time and offset; a partial date cannot be shifted
        s = date.empty() ? "" : date + (datetime ? s.substr(8) : "");
    }
    put(c, el, join(vals));
}

// Applies the profile to one element; returns true to remove it.
bool clean_element(ctx &c, DcmElement *el)
{
    const DcmTag &tag = el->getTag();
    uint16_t g = tag.getGroup(), e = tag.getElement();
    uint32_t key = static_cast<uint32_t>(g) << 16 | e;
    DcmEVR vr = el->ident();
    // private data, overlays (burned-in text of another kind), curves,
    // the visit (0038: admission and episode IDs, the patient's ward,
    // residence and state; all X in Table E.1-1, none needed by a storage
    // IOD) and a photograph's GPS position (0016,0070-008E)
    if ((g & 1) || (g >= 0x6000 && g <= 0x60FF) ||
        (g >= 0x5000 && g <= 0x50FF) || g == 0x0012 || g == 0x4008 ||
        g == 0x0038 || (g == 0x0016 && e >= 0x0070 && e <= 0x008E))
        return true;
    if (const rule *r = find_rule(key)) {
        switch (r->a) {
        case A_X:
            return true;
        case A_CHAR_X:
            return !c.o->keep_characteristics;
        case A_CHAR_Z:
            if (c.o->keep_characteristics)
                return false;
            /* fall through */
        case A_Z:
            if (vr == EVR_SQ) {
                auto *sq = static_cast<DcmSequenceOfItems *>(el);
                while (sq->card() > 0)
                    delete sq->remove(0UL);
                c.changed++;
            } else {
                put(c, el, "");
            }
            return false;
        case A_DUMMY:
            if (vr == EVR_SQ)
                clean_items(c, el);
            else
                put(c, el, "ANONYMOUS");
            return false;
        case A_NAME:
            put(c, el, c.o->patient_name);
            return false;
        case A_ID:
            put(c, el, c.o->patient_id);
            return false;
        case A_STUDY_ID:
            put(c, el, c.o->study_id ? c.o->study_id : "1");
            return false;
        case A_CLEAN:
            break; // by VR below
        }
    }
    switch (vr) {
    case EVR_SQ:
        clean_items(c, el);
        return false;
    case EVR_PN:
        // a person the table does not name: emptied (an IOD may make it
        // Type 2: the ROI Interpreter of an RT Structure Set)
        put(c, el, "");
        return false;
    case EVR_AE: case EVR_UR: case EVR_UN:
        // an address the table does not know, or a value whose meaning is
        // unknown: nothing of it can be checked
        return true;
    case EVR_UI:
        if (!is_class_uid(key))
            remap_uids(c, el);
        return false;
    case EVR_DA:
        shift_dates(c, el, false);
        return false;
    case EVR_DT:
        shift_dates(c, el, true);
        return false;
    default:
        if (is_text_vr(vr) && !is_code_tag(key)) {
            OFString v;
            if (el->getOFStringArray(v).good()) {
                std::string s = v.c_str();
                if (strike(c, s))
                    put(c, el, s);
            }
        }
        return false;
    }
}

void clean_item(ctx &c, DcmItem *item)
{
    for (unsigned long i = item->card(); i-- > 0 && !c.err;) {
        DcmElement *el = item->getElement(i);
        if (el && clean_element(c, el)) {
            delete item->remove(i);
            c.removed++;
        }
    }
}

// True when item must go because of instances left out of the export: it
// references one itself (Referenced SOP Instance UID), or, in a document
// (GSPS, KO, SR), one of its sequences had items and pruning emptied it
// (an IMAGE content item whose only reference went, a series item with
// no image left), so that what remains still has what it needs; at the
// top that means the document has nothing left to reference. In an image
// nothing cascades (an item there may be a frame's functional groups): a
// sequence that empties goes alone. Run on the original UIDs, before they
// are mapped.
bool prune(ctx &c, DcmItem *item, bool image, bool top)
{
    const char *u = nullptr;
    if (!top &&
        item->findAndGetString(DCM_ReferencedSOPInstanceUID, u, OFFalse)
            .good() &&
        u && c.o->left_out(c.o->user, u))
        return true;
    for (unsigned long i = item->card(); i-- > 0;) {
        DcmElement *el = item->getElement(i);
        if (!el || el->ident() != EVR_SQ)
            continue;
        auto *sq = static_cast<DcmSequenceOfItems *>(el);
        unsigned long had = sq->card();
        for (unsigned long k = had; k-- > 0;)
            if (prune(c, sq->getItem(k), image, false)) {
                delete sq->remove(k);
                c.pruned++;
            }
        if (had && sq->card() == 0) {
            if (!image)
                return true;
            delete item->remove(i);
        }
    }
    return false;
}

// 1 if the pixels, or an encapsulated document (PDF, CDA: a scanned
// referral, an outside report), may show who the patient is. Neither can
// be cleaned here, so the Clean Pixel Data option is not claimed and
// such an object is refused (PS3.15 E.1.1: Burned In Annotation; in the
// Encapsulated Document module it says whether the document identifies
// the patient).
bool burned_in(DcmDataset *ds)
{
    bool document = ds->tagExists(DCM_EncapsulatedDocument);
    if (!ds->tagExists(DCM_PixelData) && !document)
        return false;
    OFString b, rv, mod, cls;
    ds->findAndGetOFString(DCM_BurnedInAnnotation, b);
    ds->findAndGetOFString(DCM_RecognizableVisualFeatures, rv);
    if (trim(b.c_str()) == "YES" || trim(rv.c_str()) == "YES")
        return true;
    if (!trim(b.c_str()).empty())
        return false;
    if (document) // not said (Type 1 in the module): it may
        return true;
    // not said: ultrasound, secondary capture and photographs often carry
    // the patient's name in their pixels
    ds->findAndGetOFString(DCM_Modality, mod);
    ds->findAndGetOFString(DCM_SOPClassUID, cls);
    static const char *const risky[] = {"US", "SC", "OT", "XC", "ES", "GM",
                                        "SM", "DOC", "IVUS"};
    for (const char *m : risky)
        if (trim(mod.c_str()) == m)
            return true;
    // Secondary Capture and its multi-frame kinds (…1.1.7.1 to 7.4)
    const std::string sc = "1.2.840.10008.5.1.4.1.1.7";
    std::string k = trim(cls.c_str());
    return k == sc || k.compare(0, sc.size() + 1, sc + ".") == 0;
}

void add_code(DcmSequenceOfItems *sq, const char *value, const char *meaning)
{
    auto *it = new DcmItem();
    it->putAndInsertString(DCM_CodeValue, value);
    it->putAndInsertString(DCM_CodingSchemeDesignator, "DCM");
    it->putAndInsertString(DCM_CodeMeaning, meaning);
    sq->append(it);
}

void declare(ctx &c, DcmDataset *ds)
{
    ds->putAndInsertString(DCM_PatientIdentityRemoved, "YES");
    ds->putAndInsertString(DCM_DeidentificationMethod,
                           "PS3.15 E.1 Basic Profile (consort-node export)");
    auto *sq = new DcmSequenceOfItems(DCM_DeidentificationMethodCodeSequence);
    add_code(sq, "113100", "Basic Application Confidentiality Profile");
    add_code(sq, "113103", "Clean Graphics Option");
    add_code(sq, "113104", "Clean Structured Content Option");
    add_code(sq, "113105", "Clean Descriptors Option");
    add_code(sq, "113107",
             "Retain Longitudinal Temporal Information Modified Dates "
             "Option");
    if (c.o->keep_characteristics)
        add_code(sq, "113108", "Retain Patient Characteristics Option");
    ds->insert(sq, OFTrue);
    ds->putAndInsertString(DCM_LongitudinalTemporalInformationModified,
                           "MODIFIED");
    // Type 1 in a DICOMDIR (Type 2 in the objects): values, not gaps;
    // the pseudonyms also where the original had no name or ID at all
    OFString v;
    if (!ds->tagExists(DCM_PatientName))
        ds->putAndInsertString(DCM_PatientName, c.o->patient_name);
    if (ds->findAndGetOFString(DCM_PatientID, v).bad() || v.empty())
        ds->putAndInsertString(DCM_PatientID, c.o->patient_id);
    if (ds->findAndGetOFString(DCM_StudyID, v).bad() || v.empty())
        ds->putAndInsertString(DCM_StudyID,
                               c.o->study_id ? c.o->study_id : "1");
    if (ds->findAndGetOFString(DCM_StudyDate, v).bad() || v.empty())
        ds->putAndInsertString(DCM_StudyDate, "19000101");
    if (ds->findAndGetOFString(DCM_StudyTime, v).bad() || v.empty())
        ds->putAndInsertString(DCM_StudyTime, "000000");
    if (ds->findAndGetOFString(DCM_SeriesNumber, v).bad() || v.empty())
        ds->putAndInsertString(DCM_SeriesNumber, "1");
    if (ds->findAndGetOFString(DCM_InstanceNumber, v).bad() || v.empty())
        ds->putAndInsertString(DCM_InstanceNumber, "1");

}

int deid(const char *in, const char *out, const dcx_deid_opts *o,
         dcx_deid_info *info, dcx_error *e)
{
    if (!o || !o->map_uid || !o->patient_name || !o->patient_id ||
        o->date_shift_days == 0) {
        dcx_err_set(e, "de-identification needs pseudonyms, a UID map and "
                       "a date shift");
        return DCX_EINVAL;
    }
    DcmFileFormat ff;
    OFCondition cond = ff.loadFile(in);
    if (cond.bad()) {
        dcx_err_set(e, "%s: %s", in, cond.text());
        return dcx_from_ofcondition(cond);
    }
    DcmDataset *ds = ff.getDataset();
    if (!o->allow_burned_in && burned_in(ds)) {
        dcx_err_set(e, "%s: the pixels may show identifying text (Burned "
                       "In Annotation YES or not stated for this kind of "
                       "image)", in);
        return DCX_EREFUSED;
    }
    E_TransferSyntax xfer = ds->getOriginalXfer();
    DcmXfer x(xfer);
    if (x.isEncapsulated() &&
        ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr).good() &&
        ds->canWriteXfer(EXS_LittleEndianExplicit))
        xfer = EXS_LittleEndianExplicit;
    else if (!x.isEncapsulated())
        xfer = EXS_LittleEndianExplicit;
    // text compared and struck out in one encoding; a set iconv cannot
    // convert stays as it is (names compared in that same encoding)
    ff.convertToUTF8();
    ctx c;
    c.o = o;
    c.e = e;
    if (o->left_out && prune(c, ds, ds->tagExists(DCM_PixelData), true)) {
        dcx_err_set(e, "%s: it references only instances left out of the "
                       "export", in);
        return DCX_EREFUSED;
    }
    collect_idents(c, ds);
    clean_item(c, ds);
    if (c.err)
        return c.err;
    declare(c, ds);
    cond = ff.saveFile(out, xfer, EET_ExplicitLength, EGL_recalcGL,
                       EPD_noChange, 0, 0, EWM_createNewMeta);
    if (cond.bad()) {
        dcx_err_set(e, "%s: %s", out, cond.text());
        return DCX_EIO;
    }
    if (info) {
        memset(info, 0, sizeof *info);
        const char *s = nullptr;
        if (ds->findAndGetString(DCM_SOPClassUID, s).good() && s)
            snprintf(info->sop_class, sizeof info->sop_class, "%s", s);
        if (ds->findAndGetString(DCM_SOPInstanceUID, s).good() && s)
            snprintf(info->sop_uid, sizeof info->sop_uid, "%s", s);
        if (ds->findAndGetString(DCM_StudyInstanceUID, s).good() && s)
            snprintf(info->study_uid, sizeof info->study_uid, "%s", s);
        snprintf(info->transfer_syntax, sizeof info->transfer_syntax, "%s",
                 DcmXfer(xfer).getXferID());
        info->has_pixels = ds->tagExists(DCM_PixelData);
        info->elements_removed = c.removed;
        info->elements_changed = c.changed;
        info->references_removed = c.pruned;
    }
    return 0;
}

} // namespace

extern "C" int dcx_deid_file(const char *in, const char *out,
                             const struct dcx_deid_opts *o,
                             struct dcx_deid_info *info,
                             struct dcx_error *e)
{
    try {
        static const bool sorted = std::is_sorted(
            rules, rules + sizeof rules / sizeof rules[0],
            [](const rule &a, const rule &b) { return a.tag < b.tag; });
        if (!sorted) {
            dcx_err_set(e, "de-identification table out of order");
            return DCX_EINTERNAL;
        }
        return deid(in, out, o, info, e);
    } catch (...) {
        dcx_err_set(e, "unexpected error while de-identifying %s", in);
        return DCX_EINTERNAL;
    }
}
