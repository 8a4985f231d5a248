package gpu_test

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/internal/testdev"
	"github.com/vkvgg/vkvgg/shaders"
)

func TestDevices(t *testing.T) {
	devs, err := gpu.Devices()
	if (errors.Is(err, gpu.ErrNoVulkan) || errors.Is(err, gpu.ErrNoDevice)) && !testdev.Required() {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) == 0 && testdev.Required() {
		t.Fatal("no device")
	}
	for i, d := range devs {
		if d.Index != i || d.Name == "" || d.MaxStorageBufferRange == 0 || d.MaxWorkgroupSize == 0 {
			t.Errorf("device %d: incomplete info %+v", i, d)
		}
		t.Logf("%v: driver %q, subgroup %d, range %d, shared %d, fp16 %v, unified %v",
			d, d.Driver, d.SubgroupSize, d.MaxStorageBufferRange, d.MaxSharedMemory, d.FP16, d.UnifiedMemory)
	}
}

func TestOpenUnknownDevice(t *testing.T) {
	testdev.Open(t) // skips without Vulkan
	for _, sel := range []string{"no such device name", "99"} {
		_, err := gpu.Open(gpu.Options{Device: sel})
		if !errors.Is(err, gpu.ErrNoDevice) {
			t.Errorf("Open(%q): got %v, want ErrNoDevice", sel, err)
		}
	}
}

func TestBufferRoundTrip(t *testing.T) {
	dev := testdev.Open(t)
	buf, err := dev.NewBuffer(4 * 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	data := make([]float32, 997)
	for i := range data {
		data[i] = float32(i) * 0.5
	}
	if err := buf.Upload(3, data); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 997)
	if err := buf.Download(3, got); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i] != data[i] {
			t.Fatalf("element %d: got %v, want %v", i, got[i], data[i])
		}
	}
	if err := buf.Upload(990, data); !errors.Is(err, gpu.ErrInvalid) {
		t.Errorf("upload past the end: got %v, want ErrInvalid", err)
	}
	for _, size := range []int64{0, -4, 6} {
		if _, err := dev.NewBuffer(size); !errors.Is(err, gpu.ErrInvalid) {
			t.Errorf("NewBuffer(%d): got %v, want ErrInvalid", size, err)
		}
	}
	if _, err := dev.NewBuffer(1 << 50); !errors.Is(err, gpu.ErrOutOfDeviceMemory) {
		t.Errorf("NewBuffer(1 PiB): got %v, want ErrOutOfDeviceMemory", err)
	}
	if err := buf.Close(); err != nil {
		t.Fatal(err)
	}
	if err := buf.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	var nilBuf *gpu.Buffer
	if err := nilBuf.Close(); err != nil {
		t.Errorf("nil Close: %v", err)
	}
}

// TestSequenceBarriers records copies and fills whose order matters and
// checks that barriers were derived for the dependent pairs only.
func TestSequenceBarriers(t *testing.T) {
	dev := testdev.Open(t)
	a, _ := dev.NewBuffer(64)
	b, _ := dev.NewBuffer(64)
	defer a.Close()
	defer b.Close()
	seq, err := dev.NewSequence(gpu.SequenceOptions{Timestamps: true})
	if err != nil {
		t.Fatal(err)
	}
	defer seq.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(seq.Fill(a.Slice(0, 32), math.Float32bits(1)))
	must(seq.Fill(a.Slice(32, 32), math.Float32bits(2))) // disjoint: no barrier
	if n := seq.Barriers(); n != 0 {
		t.Errorf("after disjoint fills: %d barriers, want 0", n)
	}
	must(seq.Copy(b.All(), a.All())) // reads what the fills wrote
	if n := seq.Barriers(); n != 1 {
		t.Errorf("after a dependent copy: %d barriers, want 1", n)
	}
	must(seq.Fill(a.Slice(0, 16), math.Float32bits(3))) // write after read
	if n := seq.Barriers(); n != 2 {
		t.Errorf("after a write-after-read: %d barriers, want 2", n)
	}
	must(seq.Submit())
	got := make([]float32, 16)
	must(b.Download(0, got))
	for i, v := range got {
		want := float32(1)
		if i >= 8 {
			want = 2
		}
		if v != want {
			t.Fatalf("b[%d] = %v, want %v", i, v, want)
		}
	}
	must(a.Download(0, got[:4]))
	if got[0] != 3 {
		t.Errorf("a[0] = %v, want 3", got[0])
	}
	// Submitting again replays the same recording.
	must(seq.Submit())
	if err := seq.Fill(a.All(), 0); err == nil || !strings.Contains(err.Error(), "Reset") {
		t.Errorf("recording after Submit: got %v, want an error asking for Reset", err)
	}
	must(seq.Reset())
	must(seq.Fill(a.All(), 0))
	must(seq.Submit())
}

func TestKernelErrors(t *testing.T) {
	dev := testdev.Open(t)
	if _, err := dev.NewKernel(gpu.KernelSpec{Name: "junk", SPIRV: []byte{1, 2, 3, 4}, Bindings: 1}); !errors.Is(err, gpu.ErrInvalid) {
		t.Errorf("junk SPIR-V: got %v, want ErrInvalid", err)
	}
	code := shaders.MustSPIRV("padc")
	k, err := dev.NewKernel(gpu.KernelSpec{Name: "padc", SPIRV: code, Bindings: 2, PushWords: 5, Spec: []uint32{64}})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	buf, _ := dev.NewBuffer(256)
	defer buf.Close()
	seq, _ := dev.NewSequence(gpu.SequenceOptions{})
	defer seq.Close()
	push := make([]uint32, 5)
	for _, c := range []struct {
		name string
		err  error
	}{
		{"too few bindings", seq.Dispatch(k, [3]int{1, 1, 1}, push, gpu.R(buf.All()))},
		{"short push", seq.Dispatch(k, [3]int{1, 1, 1}, push[:3], gpu.R(buf.All()), gpu.W(buf.All()))},
		{"zero groups", seq.Dispatch(k, [3]int{0, 1, 1}, push, gpu.R(buf.All()), gpu.W(buf.All()))},
		{"view past the end", seq.Dispatch(k, [3]int{1, 1, 1}, push, gpu.R(buf.Slice(128, 256)), gpu.W(buf.All()))},
		{"texel on storage", seq.Dispatch(k, [3]int{1, 1, 1}, push, gpu.Texels(buf.All()), gpu.W(buf.All()))},
	} {
		if !errors.Is(c.err, gpu.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", c.name, c.err)
		}
	}
}

// TestCloseReportsLeaks: Device.Close closes what is still open and says so.
func TestCloseReportsLeaks(t *testing.T) {
	testdev.Open(t)
	dev, err := gpu.Open(gpu.Options{Device: testdev.DeviceName()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dev.NewBuffer(16); err != nil {
		t.Fatal(err)
	}
	err = dev.Close()
	if !errors.Is(err, gpu.ErrLeak) || !strings.Contains(err.Error(), "Buffer(16 bytes)") {
		t.Errorf("Close with an open buffer: got %v, want ErrLeak naming it", err)
	}
	if err := dev.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestStartWait queues two sequences, the second reading what the first
// writes (AfterPrevious orders them), and waits for both.
func TestStartWait(t *testing.T) {
	dev := testdev.Open(t)
	a, _ := dev.NewBuffer(1024)
	defer a.Close()
	b, _ := dev.NewBuffer(1024)
	defer b.Close()
	first, err := dev.NewSequence(gpu.SequenceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := dev.NewSequence(gpu.SequenceOptions{AfterPrevious: true})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	for round := range 3 {
		word := math.Float32bits(float32(round) + 0.5)
		if err := first.Reset(); err != nil {
			t.Fatal(err)
		}
		if err := second.Reset(); err != nil {
			t.Fatal(err)
		}
		if err := first.Fill(a.All(), word); err != nil {
			t.Fatal(err)
		}
		if err := second.Copy(b.All(), a.All()); err != nil {
			t.Fatal(err)
		}
		if err := first.Start(); err != nil {
			t.Fatal(err)
		}
		if err := second.Start(); err != nil {
			t.Fatal(err)
		}
		if err := first.Start(); !errors.Is(err, gpu.ErrInvalid) {
			t.Errorf("Start of a running sequence: got %v, want ErrInvalid", err)
		}
		if err := second.Reset(); !errors.Is(err, gpu.ErrInvalid) {
			t.Errorf("Reset of a running sequence: got %v, want ErrInvalid", err)
		}
		if err := first.Wait(); err != nil {
			t.Fatal(err)
		}
		if err := second.Wait(); err != nil {
			t.Fatal(err)
		}
		got := make([]float32, 256)
		if err := b.Download(0, got); err != nil {
			t.Fatal(err)
		}
		for i, v := range got {
			if v != float32(round)+0.5 {
				t.Fatalf("round %d: element %d is %v", round, i, v)
			}
		}
	}
}

// TestPipelineCache: a device with a cache folder writes the compiled
// pipelines at Close, the next one loads them, and a corrupt file is
// ignored and rewritten.
func TestPipelineCache(t *testing.T) {
	testdev.Open(t)
	dir := t.TempDir()
	run := func() {
		t.Helper()
		dev, err := gpu.Open(gpu.Options{Device: testdev.DeviceName(), PipelineCache: dir})
		if err != nil {
			t.Fatal(err)
		}
		k, err := dev.NewKernel(gpu.KernelSpec{Name: "padc", SPIRV: shaders.MustSPIRV("padc"), Bindings: 2, PushWords: 5, Spec: []uint32{64}})
		if err != nil {
			t.Fatal(err)
		}
		k.Close()
		if err := dev.Close(); err != nil {
			t.Fatal(err)
		}
	}
	run()
	files, _ := filepath.Glob(filepath.Join(dir, "pipelines-*.bin"))
	if len(files) != 1 {
		t.Fatalf("cache files %v, want one", files)
	}
	first, _ := os.ReadFile(files[0])
	if len(first) < 32 {
		t.Fatalf("cache file of %d bytes", len(first))
	}
	run() // loads it; nothing new to write
	if again, _ := os.ReadFile(files[0]); !bytes.Equal(again, first) {
		t.Error("a run that compiled nothing new rewrote the cache differently")
	}
	if err := os.WriteFile(files[0], []byte("not a pipeline cache"), 0o644); err != nil {
		t.Fatal(err)
	}
	run()
	if fixed, _ := os.ReadFile(files[0]); len(fixed) < 32 {
		t.Errorf("a corrupt cache file was not rewritten (%d bytes)", len(fixed))
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".tmp-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestHalfTransfers: UploadHalf and DownloadHalf at an odd fp16 element
// round trip the fp16 values, leave the neighbours alone, and a finite
// value beyond fp16's range is refused (an infinity is not).
func TestHalfTransfers(t *testing.T) {
	dev := testdev.Open(t)
	b, err := dev.NewBuffer(64)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.UploadHalf(0, make([]float32, 32)); err != nil {
		t.Fatal(err)
	}
	in := []float32{1.5, -2.25, 65504, float32(math.Inf(-1)), 1e-7}
	if err := b.UploadHalf(3, in); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 10)
	if err := b.DownloadHalf(0, got); err != nil {
		t.Fatal(err)
	}
	for i, want := range []float32{0, 0, 0, 1.5, -2.25, 65504, float32(math.Inf(-1)), gpu.Float(gpu.Half(1e-7)), 0, 0} {
		if got[i] != want {
			t.Errorf("element %d: got %g, want %g", i, got[i], want)
		}
	}
	if err := b.UploadHalf(1, []float32{1, -70000}); !errors.Is(err, gpu.ErrInvalid) || !strings.Contains(err.Error(), "element 1") {
		t.Errorf("-70000: got %v", err)
	}
	if err := b.DownloadHalf(31, got[:2]); err == nil {
		t.Error("a read past the end: no error")
	}
}

// TestUntimedSequence: a timed sequence of more dispatches than it can
// time runs them all and says so from Timings; after Reset it times again.
func TestUntimedSequence(t *testing.T) {
	dev := testdev.Open(t)
	if dev.Info().TimestampPeriodNS == 0 {
		t.Skipf("%s has no timestamps", dev.Info().Name)
	}
	buf, err := dev.NewBuffer(4 * 1024)
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	in := make([]float32, 48) // 16 pixels of 3 channels
	for i := range in {
		in[i] = float32(i) + 0.5
	}
	if err := buf.Upload(0, in); err != nil {
		t.Fatal(err)
	}
	k, err := dev.NewKernel(gpu.KernelSpec{Name: "padc", SPIRV: shaders.MustSPIRV("padc"), Bindings: 2, PushWords: 5, Spec: []uint32{64}})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	seq, err := dev.NewSequence(gpu.SequenceOptions{Timestamps: true})
	if err != nil {
		t.Fatal(err)
	}
	defer seq.Close()
	record := func(n int) {
		t.Helper()
		for i := range n {
			// Each dispatch pads the input into the next 64-float slot.
			out := uint32(256 + 64*(i%8))
			if err := seq.Dispatch(k, [3]int{1, 1, 1}, []uint32{16, 3, 4, 0, out}, gpu.R(buf.Slice(0, 1024)), gpu.W(buf.Slice(1024, 3072))); err != nil {
				t.Fatal(err)
			}
		}
		if err := seq.Submit(); err != nil {
			t.Fatal(err)
		}
	}
	record(1100)
	if _, err := seq.Timings(); !errors.Is(err, gpu.ErrUntimed) {
		t.Errorf("Timings after 1100 dispatches: %v, want ErrUntimed", err)
	}
	if _, err := seq.Span(); !errors.Is(err, gpu.ErrUntimed) {
		t.Errorf("Span after 1100 dispatches: %v, want ErrUntimed", err)
	}
	got := make([]float32, 64)
	if err := buf.Download(256+64*7, got); err != nil {
		t.Fatal(err)
	}
	for px := range 16 {
		for c := range 4 {
			want := float32(0)
			if c < 3 {
				want = in[3*px+c]
			}
			if got[4*px+c] != want {
				t.Fatalf("pixel %d channel %d: %v, want %v", px, c, got[4*px+c], want)
			}
		}
	}
	if err := seq.Reset(); err != nil {
		t.Fatal(err)
	}
	record(3)
	ts, err := seq.Timings()
	if err != nil || len(ts) != 3 {
		t.Errorf("Timings after Reset and 3 dispatches: %d timings, %v", len(ts), err)
	}
	// The span covers every dispatch (which may overlap: no barrier
	// separates writes to different slots).
	span, err := seq.Span()
	var longest time.Duration
	for _, x := range ts {
		longest = max(longest, x.Duration)
	}
	if err != nil || span <= 0 || span < longest {
		t.Errorf("Span of 3 dispatches: %v (%v), the longest took %v", span, err, longest)
	}
}
