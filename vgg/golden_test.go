package vgg

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vkvgg/vkvgg/layers"
	"github.com/vkvgg/vkvgg/npy"
)

// The golden files come from tools/golden/golden.py: tensorflow-vgg's
// network written twice, in PyTorch and in numpy float64, small weights
// in every file format, and the expected value of every named layer.
type manifest struct {
	Cases []struct {
		Case      string
		Weights   []struct{ File, Format, Dtype string }
		Input     string
		Expected  string
		Layers    []string
		TrunkOnly bool `json:"trunk_only"`
	}
}

const goldenDir = "../testdata/golden"

func readManifest(t *testing.T) manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Cases) == 0 {
		t.Fatal("manifest lists no case")
	}
	return m
}

func readNPZ(t *testing.T, path string) map[string]npy.Array {
	t.Helper()
	_, arrays, err := npy.ReadNPZ(path)
	if err != nil {
		t.Fatal(err)
	}
	return arrays
}

// TestGolden runs every case of the manifest with every weight file on
// the CPU reference and on the GPU, every named layer against the
// independent implementation.
func TestGolden(t *testing.T) {
	testGolden(t)
}

// TestGoldenGPUKernels runs the golden cases with the kernels written for
// GPUs (shared-memory conv, storage-buffer fc), which a CPU device such
// as lavapipe would not choose by itself.
func TestGoldenGPUKernels(t *testing.T) {
	t.Setenv(layers.EnvKernels, "gpu")
	testGolden(t)
}

func testGolden(t *testing.T) {
	m := readManifest(t)
	ctx := context.Background()
	for _, c := range m.Cases {
		in, err := npy.ReadNPYFile(filepath.Join(goldenDir, c.Input))
		if err != nil {
			t.Fatal(err)
		}
		b := Batch{N: in.Shape[0], H: in.Shape[1], W: in.Shape[2], Data: in.Data}
		want := readNPZ(t, filepath.Join(goldenDir, c.Expected))
		for _, wf := range c.Weights {
			t.Run(c.Case+"/"+wf.File, func(t *testing.T) {
				w, err := LoadWeights(filepath.Join(goldenDir, wf.File))
				if err != nil {
					t.Fatal(err)
				}
				for _, net := range []*Net{openCPU(t, w), openGPU(t, w)} {
					where := "cpu"
					if net.Device() != nil {
						where = "gpu"
					}
					res, err := net.Run(ctx, b, c.Layers...)
					if err != nil {
						t.Fatalf("%s: %v", where, err)
					}
					for _, name := range c.Layers {
						got, _ := res.Feature(name)
						exp, ok := want[name]
						if !ok {
							t.Fatalf("%s missing from %s", name, c.Expected)
						}
						if !sameInts(got.Shape, exp.Shape) {
							t.Fatalf("%s %s: shape %v, want %v", where, name, got.Shape, exp.Shape)
						}
						// float32 weights and activations against a float64
						// reference rounded to float32: relative 1e-6 to 1e-5.
						if e := normErr(got.Data, exp.Data); !(e <= 2e-5) {
							t.Errorf("%s %s: normalised error %.3g > 2e-5", where, name, e)
						}
					}
					if c.TrunkOnly {
						if _, err := net.Run(ctx, b, "fc6"); err == nil || !strings.Contains(err.Error(), "pool5") {
							t.Errorf("%s: fc6 on a trunk-only size: got %v, want an error about pool5", where, err)
						}
					}
				}
			})
		}
	}
}

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
