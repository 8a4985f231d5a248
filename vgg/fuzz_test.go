package vgg

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"github.com/vkvgg/vkvgg/internal/fuzzcorpus"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vkvgg/vkvgg/npy"
)

// The fuzz target is seeded with the golden weight files, npy's weight
// fixtures and the corpus kept at the repository root, testdata/fuzz/FuzzLoadWeights/ (as
// package npy keeps its own). Inputs the fuzzer finds land in
// vgg/testdata/fuzz/FuzzLoadWeights/; move them to the root to keep them.

const fuzzCorpusRoot = "../testdata/fuzz"

// fuzzAllocSlack and fuzzAllocPerByte bound what one input may allocate
// (TotalAlloc) on the whole load path: npy's budgets let a pickle's arrays
// reach twice its size and an .npz's four times its size plus 16 MiB,
// built as they arrive (up to twice that in all as the result grows), and
// the graph shares the arrays.
const (
	fuzzAllocSlack   = 64 << 20
	fuzzAllocPerByte = 8
)

// addCorpus adds the files of the kept corpus of the fuzz target name.
func addCorpus(f *testing.F, name string) {
	fuzzcorpus.Add(f, filepath.Join(fuzzCorpusRoot, name))
}

// loadBytes runs b through the path of LoadWeights (the checked decoder,
// CheckWeights) and on into the graph and its layer shapes for a 224x224
// input and, where fc6's weights want a square input of another size, for
// that one too.
func loadBytes(b []byte) (*Weights, error) {
	w, err := DecodeWeights(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, err
	}
	g, err := Graph(w, false)
	if err != nil {
		return w, err
	}
	if _, err := g.Layers(1, 224, 224); err != nil {
		// An input size that fc6 cannot take is an ordinary outcome.
		if hw := w.FC6Inputs() / w.pool5Channels(); hw > 0 {
			if s := int(math.Sqrt(float64(hw))); s*s == hw && s <= 64 {
				_, err = g.Layers(1, 32*s, 32*s)
			}
		}
		return w, err
	}
	return w, nil
}

func FuzzLoadWeights(f *testing.F) {
	// The VGG weight files of testdata/golden/manifest.json (inputs and
	// expected values are no weights) and the weight fixtures of package
	// npy, among them a deflated .npz.
	var paths []string
	for _, pattern := range []string{"../testdata/golden/*.np[yz]", "../testdata/npy/w_*.np[yz]"} {
		p, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		paths = append(paths, p...)
	}
	for _, p := range paths {
		if strings.Contains(p, "_input") || strings.Contains(p, "_expected") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	addCorpus(f, "FuzzLoadWeights")
	f.Fuzz(func(t *testing.T, b []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		w, err := loadBytes(b)
		runtime.ReadMemStats(&after)
		if alloc, most := after.TotalAlloc-before.TotalAlloc, uint64(fuzzAllocSlack+fuzzAllocPerByte*len(b)); alloc > most {
			t.Fatalf("%d bytes of input allocated %d bytes, want at most %d", len(b), alloc, most)
		}
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an empty error")
			}
			return
		}
		for _, name := range w.Arch.ParamNames() {
			p := w.Params[name]
			fanIn := p.In
			if !p.IsFC {
				fanIn *= 9
			}
			if len(p.W) != fanIn*p.Out || len(p.B) != p.Out {
				t.Fatalf("layer %s: %d weights and %d biases for %d inputs and %d outputs", name, len(p.W), len(p.B), p.In, p.Out)
			}
		}
	})
}

// npyHeader returns the npy header of a little-endian float32 array.
func npyHeader(shape []int) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	dict := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", strings.Join(dims, ", "))
	if len(shape) == 1 {
		dict = strings.Replace(dict, ")", ",)", 1)
	}
	dict += strings.Repeat(" ", (64-(10+len(dict)+1)%64)%64) + "\n"
	return append([]byte{0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, byte(len(dict)), byte(len(dict) >> 8)}, dict...)
}

// TestLoadWeightsBomb loads .npz files of about 1 MiB whose one member
// declares a large float32 array and inflates to up to 1 GiB of zeros:
// LoadWeights must refuse each at the cost of about the file's size.
func TestLoadWeightsBomb(t *testing.T) {
	cases := []struct {
		member string
		shape  []int
		mib    int
		want   error
	}{
		// The reported file: no VGG layer is [10^6,10^6].
		{"fc6_W.npy", []int{1000000, 1000000}, 1024, ErrWeightShape},
		{"conv1_1_W.npy", []int{3, 3, 3, 1 << 30}, 1024, ErrWeightShape},
		{"conv9_1_W.npy", []int{3, 3, 64, 64}, 1024, ErrWeightShape},
		{"fc8_b.npy", []int{1000, 1000}, 1024, ErrWeightShape},
		// A shape VGG could have, 604 MB of zeros that deflate holds in
		// 600 KB: more than npy lets an .npz of that size hold.
		{"conv5_3_W.npy", []int{3, 3, 4096, 4096}, 576, npy.ErrFormat},
	}
	dir := t.TempDir()
	for _, c := range cases {
		hdr := npyHeader(c.shape)
		n := int64(4)
		for _, d := range c.shape {
			n *= int64(d)
		}
		stream := fuzzcorpus.ZeroDeflate(t, hdr, 0, c.mib, true)
		var buf bytes.Buffer
		z := zip.NewWriter(&buf)
		w, err := z.CreateRaw(&zip.FileHeader{Name: c.member, Method: zip.Deflate,
			CompressedSize64: uint64(len(stream)), UncompressedSize64: uint64(int64(len(hdr)) + n)})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(stream)
		if err := z.Close(); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, strings.TrimSuffix(c.member, ".npy")+".npz")
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		_, err = LoadWeights(path)
		took := time.Since(start)
		runtime.ReadMemStats(&after)
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s %v: %.1f KB file inflating to %d MiB, refused in %v with %.2f MB allocated: %v",
			c.member, c.shape, float64(buf.Len())/1024, c.mib, took.Round(time.Microsecond), float64(alloc)/(1<<20), err)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want one matching %v", c.member, err, c.want)
		}
		if alloc > 64<<20 || took > 2*time.Second {
			t.Errorf("%s: %.1f MB and %v, want at most 64 MB and 2s", c.member, float64(alloc)/(1<<20), took)
		}
	}
}

// TestCheckShape checks the shapes CheckShape takes and refuses.
func TestCheckShape(t *testing.T) {
	cases := []struct {
		layer string
		which int
		shape []int
		ok    bool
	}{
		{"conv1_1", 0, []int{3, 3, 3, 64}, true},
		{"conv5_4", 0, []int{3, 3, 4096, 4096}, true},
		{"conv1_1", 1, []int{64}, true},
		{"fc6", 0, []int{25088, 4096}, true},
		{"fc6", 0, []int{1 << 20, 65536}, true},
		{"fc8", 1, []int{65536}, true},
		{"conv1_1", 0, []int{3, 3, 3, 4097}, false},
		{"conv1_1", 0, []int{5, 5, 3, 64}, false},
		{"conv1_1", 0, []int{3, 3, 0, 64}, false},
		{"conv1_1", 0, []int{3, 3, 64}, false},
		{"conv1_1", 1, []int{4097}, false},
		{"conv1_1", 1, []int{8, 8}, false},
		{"fc6", 0, []int{1<<20 + 1, 4096}, false},
		{"fc6", 0, []int{25088, 65537}, false},
		{"fc6", 0, []int{3, 3, 512, 4096}, false},
		{"fc8", 1, []int{}, false},
		{"fc9", 0, []int{10, 10}, false},
		{"conv6_1", 0, []int{3, 3, 3, 3}, false},
		{"", 0, []int{3, 3, 3, 3}, false},
	}
	for _, c := range cases {
		err := CheckShape(c.layer, c.which, c.shape)
		if (err == nil) != c.ok || err != nil && !errors.Is(err, ErrWeightShape) {
			t.Errorf("CheckShape(%q, %d, %v) = %v, want ok %v", c.layer, c.which, c.shape, err, c.ok)
		}
	}
}
