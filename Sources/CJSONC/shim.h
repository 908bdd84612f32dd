#ifndef GATESURGEON_CJSONC_SHIM_H
#define GATESURGEON_CJSONC_SHIM_H
#include <json-c/json.h>
#endif
