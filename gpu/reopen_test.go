package gpu_test

import (
	"errors"
	"testing"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/internal/testdev"
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
				dev, err := gpu.Open(gpu.Options{Validation: validation})
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
				dev, err := gpu.Open(gpu.Options{Validation: validation})
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
}
