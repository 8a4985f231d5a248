package extract_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vkvgg/vkvgg/extract"
	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/images"
	"github.com/vkvgg/vkvgg/internal/testdev"
	"github.com/vkvgg/vkvgg/models"
	"github.com/vkvgg/vkvgg/npy"
)

const weights = "../testdata/tv/resnet18.pth" // a thin ResNet-18: fast on the CPU reference

// dataset makes a labelled folder tree: two classes, a file outside them,
// a truncated JPEG, a text file and a hidden file.
func dataset(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "data")
	src := "../testdata/images/"
	files := map[string]string{
		"cats/a.jpg":  src + "chelsea.jpg",
		"cats/b.png":  src + "small/tiny.png",
		"dogs/c.jpg":  src + "rocket_gray.jpg",
		"dogs/d.gif":  src + "small/tiny.gif",
		"loose.png":   src + "coffee_rgba.png",
		".hidden.jpg": src + "small/tiny.jpg",
	}
	for dst, from := range files {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(root, dst)), 0o755)
		if err := os.WriteFile(filepath.Join(root, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	jpg, _ := os.ReadFile(src + "chelsea.jpg")
	os.WriteFile(filepath.Join(root, "cats/broken.jpg"), jpg[:300], 0o644)
	os.WriteFile(filepath.Join(root, "notes.txt"), []byte("not an image\n"), 0o644)
	return root
}

func open(t *testing.T, device string) *models.Net {
	t.Helper()
	if device != models.DeviceCPU {
		testdev.Open(t) // skips without a device, fails under VKVGG_REQUIRE_GPU
	}
	opts := models.Options{Device: device}
	if device != models.DeviceCPU {
		opts.Device, opts.Kernels = testdev.DeviceName(), testdev.Kernels(t)
	}
	n, err := models.Load(weights, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func members(t *testing.T, path string) map[string]npy.Member {
	t.Helper()
	ms, err := npy.ReadNPZMembers(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]npy.Member{}
	for _, m := range ms {
		out[m.Name] = m
	}
	return out
}

// TestExtractFolder extracts a labelled folder and compares every shard
// with the network run image by image, on the CPU reference (bit for bit)
// and on the device.
func TestExtractFolder(t *testing.T) {
	root := dataset(t)
	layers := []string{"layer1", "avgpool", "prob"}
	for _, device := range []string{models.DeviceCPU, ""} {
		net := open(t, device)
		out := filepath.Join(t.TempDir(), "out")
		rep, err := extract.Run(context.Background(), net, extract.Job{Network: net.Name, Weights: weights, Layers: layers,
			Size: 64, Batch: 2, Shard: 3, Out: out, Paths: []string{root}})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Candidates != 7 || rep.Extracted != 5 || rep.Skipped != 2 || rep.Shards != 3 {
			t.Errorf("report %+v, want 7 candidates, 5 extracted, 2 skipped, 3 shards", rep)
		}
		if b, _ := os.ReadFile(filepath.Join(out, "classes.txt")); string(b) != "cats\ndogs\n" {
			t.Errorf("classes.txt %q", b)
		}
		skipped, _ := os.ReadFile(filepath.Join(out, "skipped.tsv"))
		lines := strings.Split(strings.TrimSpace(string(skipped)), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[1], filepath.Join(root, "cats/broken.jpg")+"\t") || !strings.HasPrefix(lines[2], filepath.Join(root, "notes.txt")+"\t") {
			t.Errorf("skipped.tsv:\n%s", skipped)
		}
		var paths []string
		var labels []int32
		feats := map[string][]float32{}
		for k := range 3 {
			m := members(t, filepath.Join(out, "part-0000"+string(rune('0'+k))+".npz"))
			paths = append(paths, m["paths"].Unicode...)
			labels = append(labels, m["labels"].Int32...)
			for _, l := range layers {
				feats[l] = append(feats[l], m[l].Float32...)
				if m[l].Shape[0] != len(m["paths"].Unicode) {
					t.Errorf("shard %d %s: shape %v for %d images", k, l, m[l].Shape, len(m["paths"].Unicode))
				}
			}
		}
		wantPaths := []string{"cats/a.jpg", "cats/b.png", "dogs/c.jpg", "dogs/d.gif", "loose.png"}
		for i := range wantPaths {
			wantPaths[i] = filepath.Join(root, wantPaths[i])
		}
		if !slices.Equal(paths, wantPaths) || !slices.Equal(labels, []int32{0, 0, 1, 1, -1}) {
			t.Errorf("paths %v labels %v", paths, labels)
		}
		// Each image alone through the same network.
		ref := open(t, models.DeviceCPU)
		for i, p := range wantPaths {
			img, err := images.LoadVGG(p, 64)
			if err != nil {
				t.Fatal(err)
			}
			res, err := ref.Run(context.Background(), graph.Batch{N: 1, H: 64, W: 64, Data: img.Pix}, layers...)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range layers {
				f, _ := res.Feature(l)
				n := len(f.Data)
				got := feats[l][i*n : (i+1)*n]
				if device == models.DeviceCPU && !slices.Equal(got, f.Data) {
					t.Errorf("cpu %s image %d: differs from a run of the image alone", l, i)
				}
				if e := normErr(got, f.Data); !(e < 1e-4) {
					t.Errorf("device %q %s image %d: normalised error %.3g", device, l, i, e)
				}
			}
		}
		numpyReads(t, out)
	}
}

func normErr(a, b []float32) float64 {
	var d, n float64
	for i := range a {
		d += (float64(a[i]) - float64(b[i])) * (float64(a[i]) - float64(b[i]))
		n += float64(b[i]) * float64(b[i])
	}
	if n == 0 {
		return d
	}
	return d / n
}

// numpyReads loads every shard with numpy, without allow_pickle, where
// Debian's numpy is installed.
func numpyReads(t *testing.T, dir string) {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Log("no /usr/bin/python3: numpy check skipped")
		return
	}
	script := `import sys, glob, numpy as np
n = 0
for f in sorted(glob.glob(sys.argv[1] + "/part-*.npz")):
    z = np.load(f)
    assert z["paths"].dtype.kind == "U" and z["labels"].dtype == np.int32
    assert z["layer1"].dtype == np.float32 and len(z["layer1"]) == len(z["paths"]) == len(z["labels"])
    n += len(z["paths"])
print(n)`
	out, err := exec.Command(py, "-c", script, dir).CombinedOutput()
	if err != nil && strings.Contains(string(out), "No module named 'numpy'") {
		t.Log("no numpy: check skipped")
		return
	}
	if err != nil || strings.TrimSpace(string(out)) != "5" {
		t.Errorf("numpy: %v\n%s", err, out)
	}
}

// TestExtractRefusesOtherJob: a different job on an output folder is
// refused with the difference named; the same job resumes with nothing
// left to do.
func TestExtractRefusesOtherJob(t *testing.T) {
	root := dataset(t)
	net := open(t, models.DeviceCPU)
	out := filepath.Join(t.TempDir(), "out")
	job := extract.Job{Network: net.Name, Weights: weights, Layers: []string{"avgpool"}, Size: 64, Batch: 4, Shard: 4, Out: out, Paths: []string{root}}
	if _, err := extract.Run(context.Background(), net, job); err != nil {
		t.Fatal(err)
	}
	rep, err := extract.Run(context.Background(), net, job)
	if err != nil || rep.Resumed != 2 || rep.Extracted != 5 {
		t.Errorf("rerun: %+v, %v; want both shards resumed", rep, err)
	}
	other := job
	other.Size = 96
	if _, err := extract.Run(context.Background(), net, other); !errors.Is(err, extract.ErrDifferentJob) || !strings.Contains(err.Error(), "input size 96") {
		t.Errorf("another size: got %v", err)
	}
	other = job
	other.Batch = 2
	if _, err := extract.Run(context.Background(), net, other); !errors.Is(err, extract.ErrDifferentJob) || !strings.Contains(err.Error(), "batch 2") {
		t.Errorf("another batch: got %v", err)
	}
	other = job
	other.Layers = []string{"prob"}
	if _, err := extract.Run(context.Background(), net, other); !errors.Is(err, extract.ErrDifferentJob) || !strings.Contains(err.Error(), "layers") {
		t.Errorf("other layers: got %v", err)
	}
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), nil, 0o644)
	job.Out = full
	if _, err := extract.Run(context.Background(), net, job); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("a non-empty folder without a manifest: got %v", err)
	}
}

// TestOutputInsideInput: an output folder inside the dataset is not
// walked, so the job resumes; a link to an image counts as the image.
func TestOutputInsideInput(t *testing.T) {
	root := dataset(t)
	if err := os.Symlink(filepath.Join(root, "cats/a.jpg"), filepath.Join(root, "dogs/link.jpg")); err != nil {
		t.Fatal(err)
	}
	net := open(t, models.DeviceCPU)
	job := extract.Job{Network: net.Name, Weights: weights, Layers: []string{"avgpool"}, Size: 32, Batch: 4, Shard: 4, Out: filepath.Join(root, "feats"), Paths: []string{root}}
	rep, err := extract.Run(context.Background(), net, job)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Candidates != 8 || rep.Extracted != 6 {
		t.Errorf("report %+v: want 8 candidates (the link among them), 6 extracted", rep)
	}
	if rep, err = extract.Run(context.Background(), net, job); err != nil || rep.Resumed != rep.Shards {
		t.Errorf("rerun: %+v, %v", rep, err)
	}
	// A second writer of the folder is refused while the first holds it.
	p, err := extract.Prepare(net.Graph(), job)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := extract.Run(context.Background(), net, job); err == nil || !strings.Contains(err.Error(), "another vkvgg extract") {
		t.Errorf("a concurrent run: got %v", err)
	}
	p.Close()
	if _, err := os.Stat(filepath.Join(job.Out, ".lock")); !os.IsNotExist(err) {
		t.Errorf("the lock file stays after Close: %v", err)
	}
}
