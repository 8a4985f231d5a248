package npy

import (
	"bytes"
	"errors"
	"github.com/vkvgg/vkvgg/internal/fuzzcorpus"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fuzz targets are seeded with every file in testdata/npy and with the
// corpus kept at the repository root, testdata/fuzz/<FuzzName>/ (files in
// the format go test writes: a "go test fuzz v1" line, then []byte("...")).
// Inputs the fuzzer finds land in npy/testdata/fuzz/<FuzzName>/; move them
// to the root directory to keep them.

const corpusRoot = "../testdata/fuzz"

// addSeeds adds the fixtures whose names match one of prefixes, and the
// kept corpus of the target name.
func addSeeds(f *testing.F, name string, prefixes ...string) {
	entries, err := os.ReadDir(fixtureDir)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		n := e.Name()
		if strings.HasSuffix(n, ".py") || strings.HasSuffix(n, ".json") {
			continue
		}
		for _, p := range prefixes {
			if strings.HasPrefix(n, p) {
				b, err := os.ReadFile(filepath.Join(fixtureDir, n))
				if err != nil {
					f.Fatal(err)
				}
				f.Add(b)
				break
			}
		}
	}
	fuzzcorpus.Add(f, filepath.Join(corpusRoot, name))
}

// checkResultError fails unless err matches a sentinel and reads well.
func checkResultError(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrDType) {
		t.Fatalf("error matches neither ErrFormat nor ErrDType: %v", err)
	}
	if errors.Is(err, ErrTruncated) && !errors.Is(err, ErrFormat) {
		t.Fatalf("ErrTruncated error does not match ErrFormat: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "npy: ") {
		t.Fatalf("error lacks the npy: prefix: %v", err)
	}
}

// checkArrayShape fails unless a's data matches its shape.
func checkArrayShape(t *testing.T, what string, a Array) {
	t.Helper()
	n, err := elemCount(a.Shape)
	if err != nil || n != len(a.Data) {
		t.Fatalf("%s: shape %v with %d values", what, a.Shape, len(a.Data))
	}
}

func FuzzDecodeWeights(f *testing.F) {
	addSeeds(f, "FuzzDecodeWeights", "w_", "bad_")
	f.Fuzz(func(t *testing.T, b []byte) {
		layers, err := DecodeWeights(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			if layers != nil {
				t.Fatal("layers and an error")
			}
			checkResultError(t, err)
			return
		}
		if len(layers) == 0 {
			t.Fatal("no layers and no error")
		}
		seen := map[*float32]bool{}
		var total int64
		for name, l := range layers {
			checkArrayShape(t, name+" W", l.W)
			checkArrayShape(t, name+" b", l.B)
			for _, d := range [][]float32{l.W.Data, l.B.Data} {
				if len(d) > 0 && !seen[&d[0]] {
					seen[&d[0]] = true
					total += 4 * int64(len(d))
				}
			}
		}
		if total > 2*int64(len(b))+1<<20 {
			t.Fatalf("%d bytes of arrays from %d bytes of input", total, len(b))
		}
	})
}

func FuzzReadNPY(f *testing.F) {
	addSeeds(f, "FuzzReadNPY", "a_", "bad_a_")
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ReadNPY(bytes.NewReader(b))
		// The same bytes from a stream of unknown length.
		s, serr := ReadNPY(struct{ io.Reader }{bytes.NewReader(b)})
		if (err == nil) != (serr == nil) {
			t.Fatalf("with length: %v; as a stream: %v", err, serr)
		}
		if err != nil {
			checkResultError(t, err)
			checkResultError(t, serr)
			return
		}
		checkArrayShape(t, "array", a)
		if int64(len(a.Data)) > int64(len(b)) {
			t.Fatalf("%d values from %d bytes", len(a.Data), len(b))
		}
		if len(s.Data) != len(a.Data) {
			t.Fatalf("stream read %d values, reader %d", len(s.Data), len(a.Data))
		}
		for i := range a.Data {
			if math.Float32bits(a.Data[i]) != math.Float32bits(s.Data[i]) {
				t.Fatalf("value %d: %v from the reader, %v from the stream", i, a.Data[i], s.Data[i])
			}
		}
	})
}
