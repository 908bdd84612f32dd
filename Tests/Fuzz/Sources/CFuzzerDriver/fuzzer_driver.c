// The declaration in include/fuzzer_driver.h is all this module provides;
// libFuzzer itself is linked by -sanitize=fuzzer.
#include "fuzzer_driver.h"
