package npy

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestMembersRoundTrip writes float32, int32 and unicode members and reads
// them back; where Debian's numpy is installed, np.load reads the file
// without allow_pickle and sees the same values.
func TestMembersRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.npz")
	in := []Member{
		{Name: "feat", Shape: []int{2, 3}, Float32: []float32{1, -2.5, 3, 0, 1e-8, 7}},
		{Name: "labels", Shape: []int{3}, Int32: []int32{-1, 0, 41}},
		{Name: "paths", Shape: []int{3}, Unicode: []string{"a/b.jpg", "", "cats/Ünïcødé 猫.png"}},
		{Name: "empty", Shape: []int{0}, Unicode: []string{}},
	}
	if err := WriteNPZMembers(path, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadNPZMembers(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d members, want %d", len(out), len(in))
	}
	for i := range in {
		a, b := in[i], out[i]
		if a.Name != b.Name || !slices.Equal(a.Shape, b.Shape) || !slices.Equal(a.Float32, b.Float32) || !slices.Equal(a.Int32, b.Int32) || !slices.Equal(a.Unicode, b.Unicode) {
			t.Errorf("member %d: wrote %+v, read %+v", i, a, b)
		}
	}
	for _, bad := range []Member{
		{Name: "two", Shape: []int{1}, Float32: []float32{1}, Int32: []int32{1}},
		{Name: "shape", Shape: []int{2}, Int32: []int32{1}},
		{Name: "utf8", Shape: []int{1}, Unicode: []string{"\xff"}},
	} {
		if err := WriteNPZMembers(filepath.Join(t.TempDir(), "x.npz"), []Member{bad}); err == nil {
			t.Errorf("%s: accepted", bad.Name)
		}
	}
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	script := `import sys, numpy as np
z = np.load(sys.argv[1])
print(z["feat"].dtype, z["feat"].tolist())
print(z["labels"].dtype, z["labels"].tolist())
print(z["paths"].dtype, "|".join(z["paths"].tolist()))`
	got, err := exec.Command(py, "-c", script, path).CombinedOutput()
	if err != nil {
		if strings.Contains(string(got), "No module named 'numpy'") {
			t.Skip("no numpy")
		}
		t.Fatalf("numpy: %v\n%s", err, got)
	}
	want := "float32 [[1.0, -2.5, 3.0], [0.0, 9.99999993922529e-09, 7.0]]\nint32 [-1, 0, 41]\n<U18 a/b.jpg||cats/Ünïcødé 猫.png\n"
	if string(got) != want {
		t.Errorf("numpy read:\n%s\nwant:\n%s", got, want)
	}
}
