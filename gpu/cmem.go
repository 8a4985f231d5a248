//go:build cgo

package gpu

// #include <stdlib.h>
import "C"

import (
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// cMalloc allocates n bytes of C memory, for data that Vulkan structs
// point to through the binding.
func cMalloc(n int) unsafe.Pointer { return C.calloc(C.size_t(n), 1) }

// cFree frees memory from cMalloc.
func cFree(p unsafe.Pointer) { C.free(p) }

// into runs a Vulkan call that returns a handle through a pointer, giving
// it a pointer to a fresh variable: cgo refuses pointers into Go structs
// that hold other Go pointers, as the owning types here do.
func into[T any](dst *T, call func(*T) vk.Result) vk.Result {
	var v T
	r := call(&v)
	*dst = v
	return r
}
