package npy

import (
	"archive/zip"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vkvgg/vkvgg/internal/fuzzcorpus"
)

// npzBomb returns an .npz of one deflated member, name, whose npy header
// declares a float32 array of shape and whose stream inflates to the
// header, noise random bytes and mib MiB of zeros. The zip claims claim
// uncompressed bytes (what the header declares, if claim < 0) and a CRC-32
// of 0 (not checked).
func npzBomb(t testing.TB, name string, shape []int, noise, mib int, end bool, claim int64) []byte {
	t.Helper()
	hdr := headerBytes(shape)
	if claim < 0 {
		n, _ := elemCount(shape)
		claim = int64(len(hdr)) + 4*int64(n)
	}
	stream := fuzzcorpus.ZeroDeflate(t, hdr, noise, mib, end)
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	w, err := z.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Deflate,
		CompressedSize64: uint64(len(stream)), UncompressedSize64: uint64(claim)})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(stream)
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bombLimits are what a hostile file may cost a reader that refuses it.
const (
	bombMaxAlloc = 64 << 20
	bombMaxTime  = 2 * time.Second
)

// checkBomb runs f, which must fail with an error matching want, and
// logs and bounds its time and the bytes it allocated.
func checkBomb(t *testing.T, what string, size int, want error, f func() error) {
	t.Helper()
	var err error
	start := time.Now()
	alloc, peak := measure(func() { err = f() })
	took := time.Since(start)
	t.Logf("%s: %.1f KB file refused in %v, %.2f MB allocated (TotalAlloc), peak heap growth %.2f MB: %v",
		what, float64(size)/1024, took.Round(time.Microsecond), mb(int64(alloc)), mb(int64(peak)), err)
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	if !errors.Is(err, want) {
		t.Errorf("%s: error does not match %v: %v", what, want, err)
	}
	checkResultError(t, err)
	if alloc > bombMaxAlloc {
		t.Errorf("%s: allocated %.1f MB, want at most %.0f MB", what, mb(int64(alloc)), mb(bombMaxAlloc))
	}
	if took > bombMaxTime {
		t.Errorf("%s: took %v, want at most %v", what, took, bombMaxTime)
	}
}

// TestNPZBomb reads deflate bombs: members that inflate to up to 1 GiB of
// zeros from 1 MiB. Each must be refused at the cost of about its own
// size, by the plain readers (the size the npy header declares bounds what
// is inflated; deflate cannot expand 1 MiB to the 4 TB of a [10^6,10^6]
// float32 array; npzBudget bounds the rest) and with a shape check.
func TestNPZBomb(t *testing.T) {
	dir := t.TempDir()
	errRefused := errors.New("refused")
	cases := []struct {
		name  string
		shape []int
		noise int // random bytes before the zeros
		mib   int // MiB of zeros
		end   bool
		claim int64 // the zip's uncompressed size; -1: what the header declares
		want  error
	}{
		// The reported file: a [10^6,10^6] array, 1 MiB of stream.
		{"huge shape", []int{1000000, 1000000}, 0, 1024, true, -1, ErrTruncated},
		// A 4 MB array, the zip agreeing, and 1 GiB of stream behind it.
		{"long stream", []int{1000, 1000}, 0, 1024, true, -1, ErrFormat},
		// The same with the zip claiming the whole 1 GiB.
		{"lying zip size", []int{1000, 1000}, 0, 1024, true, 1 << 30, ErrFormat},
		// 16 MiB declared (no more than 64 KB of stream can hold), 8 MiB
		// inflated, then the stream stops.
		{"short stream", []int{4096, 1024}, 64 << 10, 8, false, -1, ErrTruncated},
		// 256 MiB declared and there, all zeros, in 265 KB: deflate can
		// do it, but it is more than npzBudget allows.
		{"dense zeros", []int{65536, 1024}, 0, 256, true, -1, ErrFormat},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := npzBomb(t, "fc6_W.npy", c.shape, c.noise, c.mib, c.end, c.claim)
			path := filepath.Join(dir, c.name+".npz")
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			checkBomb(t, "ReadNPZ", len(b), c.want, func() error {
				_, _, err := ReadNPZ(path)
				return err
			})
			checkBomb(t, "DecodeWeights", len(b), c.want, func() error {
				_, err := DecodeWeights(bytes.NewReader(b), int64(len(b)))
				return err
			})
			var seen [][]int
			check := func(layer string, which int, shape []int) error {
				if layer != "fc6" || which != 0 {
					t.Errorf("check of layer %q, %d; want fc6, 0", layer, which)
				}
				seen = append(seen, shape)
				return errRefused
			}
			checkBomb(t, "ReadWeightsChecked", len(b), errRefused, func() error {
				_, err := ReadWeightsChecked(path, check)
				return err
			})
			if len(seen) != 1 || !slices.Equal(seen[0], c.shape) {
				t.Errorf("check saw %v, want [%v]", seen, c.shape)
			}
		})
	}
}

// TestShapeCheck checks that ReadWeightsChecked shows the check every
// array of a pickled .npy and an .npz, and reads nothing once it refuses.
func TestShapeCheck(t *testing.T) {
	for _, file := range []string{"w_py2_f4.npy", "w_npz_wb_f4.npz", "w_npzdeflate_f4.npz"} {
		path := filepath.Join(fixtureDir, file)
		want, err := ReadWeights(path)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[[2]any][]int{}
		got, err := ReadWeightsChecked(path, func(layer string, which int, shape []int) error {
			seen[[2]any{layer, which}] = shape
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(got) != len(want) || len(seen) != 2*len(want) {
			t.Fatalf("%s: %d layers and %d checks, want %d and %d", file, len(got), len(seen), len(want), 2*len(want))
		}
		for name, l := range want {
			if !slices.Equal(seen[[2]any{name, 0}], l.W.Shape) || !slices.Equal(seen[[2]any{name, 1}], l.B.Shape) {
				t.Errorf("%s: layer %s: checked %v and %v, want %v and %v", file, name,
					seen[[2]any{name, 0}], seen[[2]any{name, 1}], l.W.Shape, l.B.Shape)
			}
		}
		errNo := errors.New("no")
		calls := 0
		_, err = ReadWeightsChecked(path, func(string, int, []int) error { calls++; return errNo })
		if !errors.Is(err, errNo) || !errors.Is(err, ErrFormat) || calls != 1 {
			t.Errorf("%s: refusing check: %d calls, error %v; want 1 call and an error matching the check's and ErrFormat", file, calls, err)
		}
	}
}

// TestTorchBomb reads torch files whose tensors declare a [10^6,10^6]
// float32 size: each must fail before anything of that size is allocated,
// without a check and with one.
func TestTorchBomb(t *testing.T) {
	huge := []int64{1000000, 1000000}
	cases := []struct {
		name string
		spec tspec
		data []byte
	}{
		// The storage claims 10^12 elements; its member holds 16 bytes.
		{"huge storage", tspec{name: "w", class: "FloatStorage", key: "0", numel: 1e12, size: huge, stride: []int64{1000000, 1}}, f32s(4)},
		// One element, expanded by zero strides to 10^12.
		{"expanded", tspec{name: "w", class: "FloatStorage", key: "0", numel: 1, size: huge, stride: []int64{0, 0}}, f32s(1)},
	}
	errRefused := errors.New("refused")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := torchZip(t, "bomb", torchPickle(c.spec.write), map[string][]byte{"0": c.data})
			checkBomb(t, "DecodeTorch", len(b), ErrFormat, func() error {
				_, err := DecodeTorch(bytes.NewReader(b), int64(len(b)))
				return err
			})
			var seen [][]int
			checkBomb(t, "DecodeTorchChecked", len(b), errRefused, func() error {
				_, err := DecodeTorchChecked(bytes.NewReader(b), int64(len(b)), func(name string, shape []int) error {
					seen = append(seen, shape)
					return errRefused
				})
				return err
			})
			if len(seen) != 1 || !slices.Equal(seen[0], []int{1000000, 1000000}) {
				t.Errorf("check saw %v, want [[1000000 1000000]]", seen)
			}
		})
	}
	// The check comes before the storages are looked for.
	b := torchZip(t, "bomb", torchPickle(cases[0].spec.write), nil)
	_, err := DecodeTorchChecked(bytes.NewReader(b), int64(len(b)), func(string, []int) error { return errRefused })
	if !errors.Is(err, errRefused) {
		t.Errorf("without the storage member: %v, want the check's error", err)
	}
}

// TestTorchShapeCheck checks that ReadTorchChecked shows the check every
// float tensor of the fixtures, in order, and nothing else.
func TestTorchShapeCheck(t *testing.T) {
	for _, path := range torchFixtures(t) {
		want, err := ReadTorch(path)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		got, err := ReadTorchChecked(path, func(name string, shape []int) error {
			names = append(names, name)
			for _, e := range want {
				if e.Name == name && !slices.Equal(e.Array.Shape, shape) {
					t.Errorf("%s: %s checked as %v, want %v", filepath.Base(path), name, shape, e.Array.Shape)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || len(names) != len(want) {
			t.Errorf("%s: %d entries, %d checks, want %d", filepath.Base(path), len(got), len(names), len(want))
		}
		for i := range min(len(names), len(want)) {
			if names[i] != want[i].Name {
				t.Errorf("%s: check %d of %s, want %s", filepath.Base(path), i, names[i], want[i].Name)
			}
		}
	}
}

// TestNPZDeflateZeros reads a deflated member of 8 MiB of zeros in 9 KB,
// within npzBudget: compressible data is not refused as such.
func TestNPZDeflateZeros(t *testing.T) {
	b := npzBomb(t, "fc7_W.npy", []int{2048, 1024}, 0, 8, true, -1)
	path := filepath.Join(t.TempDir(), "zeros.npz")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var arrays map[string]Array
	var err error
	alloc, _ := measure(func() { _, arrays, err = ReadNPZ(path) })
	if err != nil {
		t.Fatal(err)
	}
	a := arrays["fc7_W"]
	if !slices.Equal(a.Shape, []int{2048, 1024}) || len(a.Data) != 2048*1024 || slices.ContainsFunc(a.Data, func(v float32) bool { return v != 0 }) {
		t.Fatalf("got shape %v, %d values, want [2048 1024] of zeros", a.Shape, len(a.Data))
	}
	t.Logf("%.1f KB file, 8 MiB of zeros: %.1f MB allocated", float64(len(b))/1024, mb(int64(alloc)))
}
