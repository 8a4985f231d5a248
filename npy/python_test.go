package npy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// python is Debian's Python 3, which has numpy; the one on PATH may not.
const python = "/usr/bin/python3"

// needNumpy skips the test unless python can import numpy.
func needNumpy(t *testing.T) {
	t.Helper()
	if err := exec.Command(python, "-c", "import numpy").Run(); err != nil {
		t.Skipf("%s with numpy not available: %v", python, err)
	}
}

// TestNumpyReadsWrites checks that numpy.load reads what WriteNPY and
// WriteNPZ write, values, dtype and shapes exact.
func TestNumpyReadsWrites(t *testing.T) {
	needNumpy(t)
	dir := t.TempDir()
	shapes := map[string][]int{"scalar": nil, "empty": {0, 3}, "vec": {7}, "mat": {3, 4}, "cube": {2, 3, 5}}
	for name, shape := range shapes {
		n, _ := elemCount(shape)
		f, err := os.Create(filepath.Join(dir, name+".npy"))
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteNPY(f, Array{Shape: shape, Data: seq(n)}); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteNPZ(filepath.Join(dir, "w.npz"), []string{"conv1_1_W", "conv1_1_b", "fc6/0", "fc6/1"},
		[]Array{{Shape: []int{3, 3, 2, 4}, Data: seq(72)}, {Shape: []int{4}, Data: seq(4)},
			{Shape: []int{5, 3}, Data: seq(15)}, {Shape: []int{3}, Data: seq(3)}}); err != nil {
		t.Fatal(err)
	}
	script := `
import sys, numpy as np
d = sys.argv[1]
def seq(shape):
    n = int(np.prod(shape))
    return (np.arange(n, dtype=np.float32) / 8 - 1).reshape(shape)
for name, shape in {"scalar": (), "empty": (0, 3), "vec": (7,), "mat": (3, 4), "cube": (2, 3, 5)}.items():
    a = np.load("%s/%s.npy" % (d, name), allow_pickle=False)
    assert a.dtype == np.dtype("<f4") and a.shape == shape and a.flags.c_contiguous, (name, a.dtype, a.shape)
    assert np.array_equal(a, seq(shape)), name
with np.load(d + "/w.npz", allow_pickle=False) as z:
    assert z.files == ["conv1_1_W", "conv1_1_b", "fc6/0", "fc6/1"], z.files
    for k, shape in (("conv1_1_W", (3, 3, 2, 4)), ("conv1_1_b", (4,)), ("fc6/0", (5, 3)), ("fc6/1", (3,))):
        assert z[k].dtype == np.float32 and np.array_equal(z[k], seq(shape)), k
print("numpy", np.__version__, "ok")
`
	out, err := exec.Command(python, "-c", script, dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("numpy could not read the files: %v\n%s", err, out)
	}
	t.Log(strings.TrimSpace(string(out)))
}
