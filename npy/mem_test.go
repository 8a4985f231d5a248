package npy

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// bigLayers are the layers of the generated files of TestPeakMemory: 49 MB
// of float32, fc6 (32 MB) in one BINSTRING as in vgg16.npy.
var bigLayers = []struct {
	name   string
	wshape []int
}{
	{"conv1_1", []int{3, 3, 3, 64}},
	{"conv5_3", []int{3, 3, 512, 512}},
	{"fc6", []int{2048, 4096}},
	{"fc7", []int{1024, 1024}},
	{"fc8", []int{1024, 1000}},
}

// bigValue is element i of a generated array with salt k.
func bigValue(k, i int) float32 { return float32(i%1000)*0.5 + float32(k) }

func bigArray(k int, shape []int) []byte {
	n, _ := elemCount(shape)
	b := make([]byte, 4*n)
	for i := range n {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(bigValue(k, i)))
	}
	return b
}

// writeBigWeights writes a Python-2-style vgg .npy of bigLayers to path and
// returns its size and the float32 bytes it holds.
func writeBigWeights(t testing.TB, path string) (size, data int64) {
	var p pickleWriter
	p.ops("}q\x00(")
	for k, l := range bigLayers {
		w := bigArray(k, l.wshape)
		b := bigArray(k+100, l.wshape[len(l.wshape)-1:])
		data += int64(len(w) + len(b))
		p.layer(l.name, func() { p.array(l.wshape, w); p.array(l.wshape[len(l.wshape)-1:], b) })
	}
	p.ops("u.")
	out := p.npy()
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return int64(len(out)), data
}

// measure runs f and returns the bytes allocated meanwhile (an upper bound
// of the heap it added at any moment) and the peak heap growth seen by
// sampling every 100µs.
func measure(f func()) (alloc, peak uint64) {
	runtime.GC()
	debug.FreeOSMemory()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var max atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Microsecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > max.Load() {
				max.Store(ms.HeapAlloc)
			}
		}
	}()
	f()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	close(stop)
	wg.Wait()
	if after.HeapAlloc > max.Load() {
		max.Store(after.HeapAlloc)
	}
	return after.TotalAlloc - before.TotalAlloc, max.Load() - min(before.HeapAlloc, max.Load())
}

// TestPeakMemory loads generated 49 MB weight files and checks that loading
// allocates little more than the float32 result: about 1.0x the file for a
// pickled .npy and for a stored .npz.
func TestPeakMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100 MB of files")
	}
	dir := t.TempDir()
	npyPath := filepath.Join(dir, "big.npy")
	size, data := writeBigWeights(t, npyPath)

	var layers map[string]Layer
	var err error
	alloc, peak := measure(func() { layers, err = ReadWeights(npyPath) })
	if err != nil {
		t.Fatal(err)
	}
	for k, l := range bigLayers {
		w := layers[l.name].W.Data
		for _, i := range []int{0, 1, len(w) / 2, len(w) - 1} {
			if w[i] != bigValue(k, i) {
				t.Fatalf("%s W[%d] = %v, want %v", l.name, i, w[i], bigValue(k, i))
			}
		}
	}
	t.Logf("pickled .npy: file %.1f MB, float32 data %.1f MB, allocated %.1f MB (%.3fx the file), peak heap growth %.1f MB (%.3fx)",
		mb(size), mb(data), mb(int64(alloc)), float64(alloc)/float64(size), mb(int64(peak)), float64(peak)/float64(size))
	if r := float64(alloc) / float64(size); r > 1.05 {
		t.Errorf("ReadWeights allocated %.3fx the file size, want at most 1.05x", r)
	}

	// The same layers as a stored .npz.
	var names []string
	var arrays []Array
	for _, l := range bigLayers {
		names = append(names, l.name+"_W", l.name+"_b")
		arrays = append(arrays, layers[l.name].W, layers[l.name].B)
	}
	npzPath := filepath.Join(dir, "big.npz")
	if err := WriteNPZ(npzPath, names, arrays); err != nil {
		t.Fatal(err)
	}
	layers, names, arrays = nil, nil, nil
	fi, err := os.Stat(npzPath)
	if err != nil {
		t.Fatal(err)
	}
	alloc, peak = measure(func() { layers, err = ReadWeights(npzPath) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stored .npz: file %.1f MB, allocated %.1f MB (%.3fx the file), peak heap growth %.1f MB (%.3fx)",
		mb(fi.Size()), mb(int64(alloc)), float64(alloc)/float64(fi.Size()), mb(int64(peak)), float64(peak)/float64(fi.Size()))
	if r := float64(alloc) / float64(fi.Size()); r > 1.05 {
		t.Errorf("ReadWeights(.npz) allocated %.3fx the file size, want at most 1.05x", r)
	}
	runtime.KeepAlive(layers)
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }

// BenchmarkReadWeights loads a generated 49 MB pickled .npy.
func BenchmarkReadWeights(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big.npy")
	size, _ := writeBigWeights(b, path)
	b.SetBytes(size)
	b.ReportAllocs()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	for b.Loop() {
		if _, err := ReadWeights(path); err != nil {
			b.Fatal(err)
		}
	}
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(b.N)/float64(size), "alloc/filesize")
}
