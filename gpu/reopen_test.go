package gpu_test

import (
	"errors"
	"testing"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/internal/testdev"
	"github.com/vkvgg/vkvgg/shaders"
)

// TestReopen opens and closes a device many times in one process, with
// and without the validation layer, as a long-running program (or a test
// binary) does: every Open must succeed and open files may not pile up
// (threads are logged). On failure it says after how many and what the
// process holds, which tells a driver's limit from a leak of ours.
func TestReopen(t *testing.T) {
	testdev.Open(t) // skips without a device
	n := 60
	if testing.Short() {
		n = 40
	}
	for _, validation := range []bool{true, false} {
		name := "plain"
		if validation {
			name = "validation"
		}
		t.Run(name, func(t *testing.T) {
			open := func() {
				t.Helper()
				dev, err := gpu.Open(gpu.Options{Device: testdev.DeviceName(), Validation: validation})
				if validation && errors.Is(err, gpu.ErrLayerNotPresent) && !testdev.Required() {
					t.Skip("no validation layer")
				}
				if err != nil {
					t.Fatalf("gpu.Open: %v (%s)", err, testdev.ProcState())
				}
				buf, err := dev.NewBuffer(1 << 20)
				if err != nil {
					t.Fatal(err)
				}
				buf.Close()
				if err := dev.Close(); err != nil {
					t.Fatal(err)
				}
			}
			open() // the driver's one-time state
			fds, threads := testdev.ProcCounts()
			for i := range n {
				dev, err := gpu.Open(gpu.Options{Device: testdev.DeviceName(), Validation: validation})
				if err != nil {
					t.Fatalf("gpu.Open after %d opens and closes: %v (%s)", i+1, err, testdev.ProcState())
				}
				if err := dev.Close(); err != nil {
					t.Fatal(err)
				}
			}
			fds2, threads2 := testdev.ProcCounts()
			t.Logf("%d opens: open files %d -> %d, threads %d -> %d", n, fds, fds2, threads, threads2)
			if fds >= 0 && fds2 > fds+4 {
				t.Errorf("open files grew from %d to %d over %d opens and closes", fds, fds2, n)
			}
		})
	}
	// Devices that work before they close, as the layers and vgg tests'
	// do (a pipeline, memory, a timed submission, a download): on NVIDIA's
	// driver 580 a test process had a device refused at vkCreateInstance
	// after some 30 of those, while bare opens never were.
	t.Run("working", func(t *testing.T) {
		base := gpu.LiveInstances()
		work := func(i int) {
			t.Helper()
			dev, err := gpu.Open(gpu.Options{Device: testdev.DeviceName(), Validation: true}) // as testdev.Open
			if errors.Is(err, gpu.ErrLayerNotPresent) && !testdev.Required() {
				dev, err = gpu.Open(gpu.Options{Device: testdev.DeviceName()})
			}
			if err != nil {
				t.Fatalf("gpu.Open after %d working devices: %v (%s)", i, err, testdev.ProcState())
			}
			defer func() {
				if err := dev.Close(); err != nil {
					t.Fatal(err)
				}
				if msgs := dev.ValidationMessages(); len(msgs) > 0 {
					t.Fatalf("validation messages: %v", msgs)
				}
			}()
			k, err := dev.NewKernel(gpu.KernelSpec{Name: "padc", SPIRV: shaders.MustSPIRV("padc"), Bindings: 2, PushWords: 5, Spec: []uint32{64}})
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			in, err := dev.NewBuffer(3 * 1000 * 4)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			out, err := dev.NewBuffer(4 * 1000 * 4)
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			x := make([]float32, 3000)
			for j := range x {
				x[j] = float32(j)
			}
			if err := in.Upload(0, x); err != nil {
				t.Fatal(err)
			}
			seq, err := dev.NewSequence(gpu.SequenceOptions{Timestamps: true})
			if err != nil {
				t.Fatal(err)
			}
			defer seq.Close()
			if err := seq.Dispatch(k, [3]int{(4000 + 63) / 64, 1, 1}, []uint32{1000, 3, 4, 0, 0}, gpu.R(in.All()), gpu.W(out.All())); err != nil {
				t.Fatal(err)
			}
			if err := seq.Submit(); err != nil {
				t.Fatal(err)
			}
			y := make([]float32, 4000)
			if err := out.Download(0, y); err != nil {
				t.Fatal(err)
			}
			if y[4*999+2] != x[3*999+2] || y[4*999+3] != 0 {
				t.Fatalf("padc on device %d: got %v, want %v and 0", i, y[4*999+2:4*999+4], x[3*999+2])
			}
		}
		work(0)
		fds, threads := testdev.ProcCounts()
		for i := range n {
			work(i + 1)
			if live := gpu.LiveInstances(); live != base {
				t.Fatalf("after %d working devices closed, %d Vulkan instances live, %d before", i+1, live, base)
			}
		}
		fds2, threads2 := testdev.ProcCounts()
		t.Logf("%d working devices: open files %d -> %d, threads %d -> %d", n, fds, fds2, threads, threads2)
		if fds >= 0 && fds2 > fds+4 {
			t.Errorf("open files grew from %d to %d over %d working devices", fds, fds2, n)
		}
	})
}
