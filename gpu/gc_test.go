package gpu_test

import (
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/internal/testdev"
	"github.com/vkvgg/vkvgg/shaders"
)

// TestCallsSurviveGC creates kernels and records and submits dispatches
// while another goroutine collects garbage without pause. The Go binding
// frees the C copies of struct arrays from finalizers, which a collection
// during a call could run before the call is done; package gpu keeps the
// collector off during such calls. Without that this test crashes or the
// validation layer reports freed descriptors.
func TestCallsSurviveGC(t *testing.T) {
	dev := testdev.Open(t)
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		for !stop.Load() {
			runtime.GC()
		}
		close(done)
	}()
	defer func() { stop.Store(true); <-done }()
	buf, err := dev.NewBuffer(4096)
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	for i := range 40 {
		k, err := dev.NewKernel(gpu.KernelSpec{Name: "padc", SPIRV: shaders.MustSPIRV("padc"), Bindings: 2, PushWords: 5, Spec: []uint32{uint32(32 + i)}})
		if err != nil {
			t.Fatal(err)
		}
		seq, err := dev.NewSequence(gpu.SequenceOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			if err := seq.Dispatch(k, [3]int{1, 1, 1}, []uint32{16, 3, 4, 0, 256}, gpu.R(buf.Slice(0, 1024)), gpu.W(buf.Slice(1024, 1024))); err != nil {
				t.Fatal(err)
			}
		}
		if err := seq.Submit(); err != nil {
			t.Fatal(err)
		}
		seq.Close()
		k.Close()
	}
}
