package torchvision

import (
	"bytes"
	"github.com/vkvgg/vkvgg/internal/fuzzcorpus"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/vkvgg/vkvgg/npy"
)

// The fuzz target is seeded with the torchvision fixtures (testdata/tv),
// npy's torch fixtures (testdata/torch) and the corpus kept at the
// repository root, testdata/fuzz/FuzzBuild/ (as package npy keeps its
// own). Inputs the fuzzer finds land in torchvision/testdata/fuzz/FuzzBuild/;
// move them to the root to keep them.

const fuzzCorpusRoot = "../testdata/fuzz"

// What one input may allocate (TotalAlloc) from bytes to layer shapes:
// npy lets a state dict's tensors reach four times the input (tied
// weights share a storage) and 1 MiB, and Build copies weights into the
// engine's layouts at most twice more (a linear layer transposed, then
// permuted from C,H,W order): 12 times the input, with a margin.
const (
	fuzzAllocSlack   = 64 << 20
	fuzzAllocPerByte = 16
)

// buildBytes runs b through the whole path of a torchvision file short of
// a device: the checked decoder, Build, and the graph's layer shapes for a
// 224x224 input. It returns the shapes the check saw.
func buildBytes(b []byte) (*Model, [][]int, []npy.TorchEntry, error) {
	var checked [][]int
	entries, err := npy.DecodeTorchChecked(bytes.NewReader(b), int64(len(b)), func(name string, shape []int) error {
		checked = append(checked, shape)
		return nil
	})
	if err != nil {
		return nil, checked, nil, err
	}
	m, err := Build(FromEntries(entries))
	if err != nil {
		return nil, checked, entries, err
	}
	if _, err := m.Graph.Layers(1, 224, 224); err != nil {
		return nil, checked, entries, err
	}
	return m, checked, entries, nil
}

func FuzzBuild(f *testing.F) {
	var paths []string
	for _, pattern := range []string{"../testdata/tv/*.pth", "../testdata/torch/*.pt"} {
		p, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		paths = append(paths, p...)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	fuzzcorpus.Add(f, filepath.Join(fuzzCorpusRoot, "FuzzBuild"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m, checked, entries, err := buildBytes(b)
		runtime.ReadMemStats(&after)
		if alloc, most := after.TotalAlloc-before.TotalAlloc, uint64(fuzzAllocSlack+fuzzAllocPerByte*len(b)); alloc > most {
			t.Fatalf("%d bytes of input allocated %d bytes, want at most %d", len(b), alloc, most)
		}
		// Every entry returned was checked first, with its shape.
		if entries != nil {
			if len(checked) != len(entries) {
				t.Fatalf("%d entries, %d checked", len(entries), len(checked))
			}
			for i, e := range entries {
				if !slices.Equal(checked[i], e.Array.Shape) {
					t.Fatalf("entry %s has shape %v, checked as %v", e.Name, e.Array.Shape, checked[i])
				}
			}
		}
		if err != nil {
			return
		}
		if m.Graph == nil || m.Classes < 1 {
			t.Fatalf("model %q with %d classes", m.Name, m.Classes)
		}
	})
}
