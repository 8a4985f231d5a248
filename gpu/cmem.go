package gpu

// #include <stdlib.h>
import "C"

import "unsafe"

// cMalloc allocates n bytes of C memory, for data that Vulkan structs
// point to through the binding.
func cMalloc(n int) unsafe.Pointer { return C.calloc(C.size_t(n), 1) }

// cFree frees memory from cMalloc.
func cFree(p unsafe.Pointer) { C.free(p) }
