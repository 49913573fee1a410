// dict_int.hh - private to the DCMTK shim: the compiled-in data dictionary.
#ifndef DCX_DICT_INT_HH
#define DCX_DICT_INT_HH

// Fills DCMTK's dictionary from the build-time table unless the operator set
// DCMDICTPATH. Returns true if the table was used. Call before any thread.
bool dcx_dict_load_builtin();

#endif
