package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/heads"
	"github.com/vkvgg/vkvgg/internal/testdev"
	"github.com/vkvgg/vkvgg/layers"
	"github.com/vkvgg/vkvgg/layers/layertest"
	"github.com/vkvgg/vkvgg/models"
	"github.com/vkvgg/vkvgg/npy"
	"github.com/vkvgg/vkvgg/viz"
)

const golden = "../../testdata/golden"

func runCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

// device returns the --device value of the tests that need a Vulkan
// device: "", the command's default ($VKVGG_DEVICE, else the best one),
// with validation on through VKVGG_VALIDATION. Without a device the test
// skips (or fails under VKVGG_REQUIRE_GPU).
func device(t *testing.T) string {
	t.Helper()
	testdev.Open(t) // skips or fails as the GPU tests do
	t.Setenv("VKVGG_VALIDATION", "1")
	return ""
}

// TestFeaturesMatchGolden runs `vkvgg features --input` on the golden
// VGG19 case and compares the .npz it writes with the expected values.
func TestFeaturesMatchGolden(t *testing.T) {
	for _, dev := range []string{"cpu", device(t)} {
		out := filepath.Join(t.TempDir(), "f.npz")
		stdout, stderr, err := runCmd(t, "features", "--device", dev, "--batch", "2",
			"--weights", filepath.Join(golden, "vgg19_py2_f4.npy"),
			"--input", filepath.Join(golden, "vgg19_input.npy"),
			"--layers", "prob,conv3_4,pool5,relu7", "--out", out)
		if err != nil {
			t.Fatalf("device %q: %v\n%s", dev, err, stderr)
		}
		if !strings.Contains(stdout, "conv3_4 [3 9 5 11]") || !strings.Contains(stderr, "ms per image") {
			t.Errorf("unexpected output:\n%s\n%s", stdout, stderr)
		}
		got := readNPZ(t, out)
		want := readNPZ(t, filepath.Join(golden, "vgg19_expected.npz"))
		for _, name := range []string{"conv3_4", "pool5", "relu7", "prob"} {
			g, w := got[name], want[name]
			if len(g.Data) != len(w.Data) || len(g.Data) == 0 {
				t.Fatalf("%s: %d values, want %d", name, len(g.Data), len(w.Data))
			}
			if e := layertest.NormErr(g.Data, w.Data); e > 2e-5 {
				t.Errorf("device %q %s: normalised error %.3g", dev, name, e)
			}
		}
	}
}

func readNPZ(t *testing.T, path string) map[string]npy.Array {
	t.Helper()
	_, arrays, err := npy.ReadNPZ(path)
	if err != nil {
		t.Fatal(err)
	}
	return arrays
}

func TestClassifyRandom(t *testing.T) {
	stdout, stderr, err := runCmd(t, "classify", "--device", "cpu", "--top", "3",
		"--weights", filepath.Join(golden, "vgg16_py3np1_f4.npy"), "../../testdata/images/small/tiny.png")
	if err == nil || !strings.Contains(err.Error(), "fc6") {
		// The reduced golden weights take tiny inputs only: classify at
		// 224x224 must explain why it cannot run them.
		t.Errorf("classify with reduced weights: got %v, want an fc6 size error\n%s%s", err, stdout, stderr)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jpg")
	os.WriteFile(bad, []byte("not an image"), 0o644)
	nan := filepath.Join(dir, "nan.npy")
	writeNPY(t, nan, []int{1, 2, 2, 3}, func(i int) float32 {
		if i == 4 {
			return float32(math.NaN())
		}
		return 0.5
	})
	flat := filepath.Join(dir, "flat.npy")
	writeNPY(t, flat, []int{4, 3}, func(int) float32 { return 0.5 })
	w := filepath.Join(golden, "vgg16_py2_f4.npy")
	in := filepath.Join(golden, "vgg16_input.npy")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{}, "usage"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"classify", "--weights", w, bad}, "bad.jpg"},
		{[]string{"classify", "--weights", w, filepath.Join(dir, "missing.png")}, "missing.png"},
		{[]string{"classify", "--weights", "random:vgg17", "x.png"}, "x.png"},
		{[]string{"features", "--device", "cpu", "--weights", "random:vgg17", "--input", in, "--layers", "pool1", "--out", filepath.Join(dir, "o.npz")}, `unknown network "random:vgg17"`},
		{[]string{"features", "--device", "cpu", "--weights", w, "--input", nan, "--layers", "pool1", "--out", filepath.Join(dir, "o.npz")}, "finite"},
		{[]string{"features", "--device", "cpu", "--weights", w, "--input", flat, "--layers", "pool1", "--out", filepath.Join(dir, "o.npz")}, "want [N,H,W,3]"},
		{[]string{"features", "--device", "cpu", "--weights", w, "--input", in, "--layers", "pool1,conv6_1", "--out", filepath.Join(dir, "o.npz")}, `unknown layer "conv6_1"`},
		{[]string{"features", "--device", "cpu", "--weights", w, "--input", in, "--layers", "pool1", "--out", filepath.Join(dir, "no/such/dir/o.npz")}, "cannot write the output"},
		{[]string{"features", "--device", "no-such-gpu", "--weights", w, "--input", in, "--layers", "pool1", "--out", filepath.Join(dir, "o.npz")}, "no-such-gpu"},
		{[]string{"features", "--weights", w, "--layers", "pool1", "--out", filepath.Join(dir, "o.npz")}, "either --input"},
		{[]string{"features", "--weights", filepath.Join(dir, "none.npy"), "--input", in, "--layers", "pool1", "--out", filepath.Join(dir, "o.npz")}, "none.npy"},
		{[]string{"classify", "--batch", "0", "--weights", w, "../../testdata/images/chelsea.jpg"}, "--batch 0"},
		{[]string{"bench", "--weights", "random:vgg16", "--batches", "100000", "--size", "4000"}, "2^31"},
		{[]string{"bench", "--weights", "random:vgg16", "--layers", "pool6"}, `unknown layer "pool6"`},
		{[]string{"bench", "--weights", "random:vgg16", "--batches", "1,x"}, `"x" is not a batch size`},
	} {
		_, _, err := runCmd(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("vkvgg %s: got %v, want an error containing %q", strings.Join(c.args, " "), err, c.want)
		}
	}
}

// TestKernelEnvironment: a kernel variable with a value no kit knows is
// refused before any weights are made, naming the variable.
func TestKernelEnvironment(t *testing.T) {
	for _, c := range [][2]string{{layers.EnvWinograd, "f3"}, {layers.EnvKernels, "tpu"}, {layers.EnvSubgroups, "no"}} {
		t.Run(c[0], func(t *testing.T) {
			t.Setenv(c[0], c[1])
			for _, args := range [][]string{
				{"classify", "--weights", "random:vgg16", "../../testdata/images/chelsea.jpg"},
				{"view", "--weights", "random:vgg16", "../../testdata/images/chelsea.jpg"},
			} {
				_, _, err := runCmd(t, args...)
				if want := fmt.Sprintf("%s=%q", c[0], c[1]); err == nil || !strings.Contains(err.Error(), want) && !errors.Is(err, errNoViewer) {
					t.Errorf("vkvgg %s with %s=%s: got %v, want an error with %s", args[0], c[0], c[1], err, want)
				}
			}
		})
	}
}

// TestDeviceEnvironment: VKVGG_DEVICE is the default of --device, with
// its meaning: "cpu" is the CPU reference, a name no device has is an
// error naming it, and --device wins over it.
func TestDeviceEnvironment(t *testing.T) {
	img := "../../testdata/images/chelsea.jpg"
	t.Setenv(gpu.EnvDevice, "cpu")
	_, stderr, err := runCmd(t, "classify", "--weights", "random:alexnet", "--top", "1", img)
	if err != nil || !strings.Contains(stderr, "on CPU reference") {
		t.Errorf("VKVGG_DEVICE=cpu: got %v, stderr %q", err, stderr)
	}
	t.Setenv(gpu.EnvDevice, "no-such-gpu")
	if _, _, err := runCmd(t, "classify", "--weights", "random:alexnet", "--top", "1", img); err == nil || !strings.Contains(err.Error(), "no-such-gpu") {
		t.Errorf("VKVGG_DEVICE=no-such-gpu: got %v, want an error naming it", err)
	}
	if _, stderr, err := runCmd(t, "classify", "--device", "cpu", "--weights", "random:alexnet", "--top", "1", img); err != nil || !strings.Contains(stderr, "on CPU reference") {
		t.Errorf("--device cpu over VKVGG_DEVICE=no-such-gpu: got %v, stderr %q", err, stderr)
	}
}

func writeNPY(t *testing.T, path string, shape []int, f func(int) float32) {
	t.Helper()
	n := 1
	for _, d := range shape {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = f(i)
	}
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if err := npy.WriteNPY(file, npy.Array{Shape: shape, Data: data}); err != nil {
		t.Fatal(err)
	}
}

// TestFeaturesKeepsOutputOnFailure: a failing run leaves an existing
// output file as it was.
func TestFeaturesKeepsOutputOnFailure(t *testing.T) {
	out := filepath.Join(t.TempDir(), "keep.npz")
	if err := os.WriteFile(out, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCmd(t, "features", "--device", "cpu", "--weights", filepath.Join(golden, "vgg16_py2_f4.npy"),
		"--input", filepath.Join(golden, "vgg16_trunk_7x5_input.npy"), "--layers", "fc7", "--out", out)
	if err == nil || !strings.Contains(err.Error(), "fc6") {
		t.Fatalf("got %v, want an fc6 size error", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "precious" {
		t.Errorf("output file changed to %q", b)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".vkvgg-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestFeaturesTorchvision runs `vkvgg features` on torchvision state
// dicts and compares the .npz with torchvision's own float64 outputs.
func TestFeaturesTorchvision(t *testing.T) {
	const tv = "../../testdata/tv"
	for _, c := range []struct{ model, layers string }{
		{"resnet18", "layer1,layer2.0.downsample.1,avgpool,prob"},
		{"resnet50", "maxpool,layer1,layer3.5,avgpool,fc,prob"},
		{"alexnet", "features.2,avgpool,classifier.2,prob"},
		{"vgg16", "features.4,features.30,avgpool,classifier.4,prob"},
	} {
		for _, dev := range []string{"cpu", device(t)} {
			out := filepath.Join(t.TempDir(), "f.npz")
			_, stderr, err := runCmd(t, "features", "--device", dev, "--batch", "2",
				"--weights", filepath.Join(tv, c.model+".pth"),
				"--input", filepath.Join(tv, c.model+"_odd_input.npy"),
				"--layers", c.layers, "--out", out)
			if err != nil {
				t.Fatalf("%s device %q: %v\n%s", c.model, dev, err, stderr)
			}
			got := readNPZ(t, out)
			want := readNPZ(t, filepath.Join(tv, c.model+"_odd_expected.npz"))
			for _, name := range strings.Split(c.layers, ",") {
				g, w := got[name], want[name]
				if len(g.Data) != len(w.Data) || len(g.Data) == 0 {
					t.Fatalf("%s %s: %d values, want %d", c.model, name, len(g.Data), len(w.Data))
				}
				if e := layertest.NormErr(g.Data, w.Data); !(e < 1e-4) {
					t.Errorf("%s device %q %s: normalised error %.3g", c.model, dev, name, e)
				}
			}
		}
	}
}

// TestLayersValidateHelp covers the listing, the device check and -h.
func TestLayersValidateHelp(t *testing.T) {
	stdout, _, err := runCmd(t, "layers", "--weights", "../../testdata/tv/resnet50.pth", "--height", "65", "--width", "97")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"resnet50 (torchvision), input 65x97", "layer1.0.downsample.1", "[3 4 256]", "avgpool", "prob"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("layers output lacks %q:\n%s", want, stdout)
		}
	}
	dev := device(t)
	stdout, stderr, err := runCmd(t, "validate", "--device", dev, "--weights", "../../testdata/tv/resnet18.pth",
		"--input", "../../testdata/tv/resnet18_odd_input.npy")
	if err != nil {
		t.Fatalf("validate: %v\n%s%s", err, stdout, stderr)
	}
	if !strings.Contains(stdout, "layer4.1.relu_1") || !strings.Contains(stdout, "every layer within 0.0001") {
		t.Errorf("validate output:\n%s", stdout)
	}
	// A tolerance nothing meets names the first layer.
	_, _, err = runCmd(t, "validate", "--device", dev, "--weights", "../../testdata/tv/resnet18.pth",
		"--input", "../../testdata/tv/resnet18_odd_input.npy", "--layers", "maxpool,layer1", "--tol", "1e-30")
	if err == nil || !strings.Contains(err.Error(), "layer maxpool is the first") {
		t.Errorf("validate --tol 1e-30: got %v", err)
	}
	for _, cmd := range []string{"classify", "features", "bench", "layers", "validate"} {
		stdout, _, err := runCmd(t, cmd, "-h")
		if err != nil || !strings.Contains(stdout, "-weights") {
			t.Errorf("vkvgg %s -h: %v\n%s", cmd, err, stdout)
		}
	}
}

// TestNoDriverFallsBack: with no Vulkan driver the default device falls
// back to the CPU reference with a warning that says how to silence it.
func TestNoDriverFallsBack(t *testing.T) {
	if !gpu.HasVulkan {
		t.Skip("built without the Vulkan backend")
	}
	t.Setenv("VK_ICD_FILENAMES", filepath.Join(t.TempDir(), "no-driver.json"))
	stdout, stderr, err := runCmd(t, "classify", "--weights", "random:resnet18", "--top", "1", "../../testdata/images/chelsea.jpg")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "running on the CPU reference instead") || !strings.Contains(stderr, "--device cpu") ||
		!strings.Contains(stderr, "mesa-vulkan-drivers") || !strings.Contains(stdout, "chelsea.jpg:") {
		t.Errorf("no driver:\nstdout %s\nstderr %s", stdout, stderr)
	}
	_, _, err = runCmd(t, "classify", "--device", "0", "--weights", "random:resnet18", "../../testdata/images/chelsea.jpg")
	if err == nil || !strings.Contains(err.Error(), "mesa-vulkan-drivers") || strings.Contains(err.Error(), "validation") {
		t.Errorf("--device 0 without a driver: got %v, want an error naming the driver package", err)
	}
}

// TestMemoryLimitSplitsBatches: a batch that needs more memory than the
// limit is split into batches that fit, with a note, and the features
// are unchanged; a limit no image fits is an error naming the sizes.
func TestMemoryLimitSplitsBatches(t *testing.T) {
	const tv = "../../testdata/tv"
	args := func(out string) []string {
		return []string{"features", "--device", "cpu", "--batch", "3", "--weights", filepath.Join(tv, "resnet18.pth"),
			"--input", filepath.Join(tv, "resnet18_odd_input.npy"), "--layers", "layer1,prob", "--out", out}
	}
	// A limit between what one and three 65x97 images plan.
	net, err := models.Load(filepath.Join(tv, "resnet18.pth"), models.Options{Device: models.DeviceCPU})
	if err != nil {
		t.Fatal(err)
	}
	one, _ := net.Plan(graph.Batch{N: 1, H: 65, W: 97}, "layer1", "prob")
	three, _ := net.Plan(graph.Batch{N: 3, H: 65, W: 97}, "layer1", "prob")
	net.Close()
	t.Logf("planned activations: %d bytes for one image, %d for three", one.ActivationBytes, three.ActivationBytes)
	t.Setenv(EnvMemoryLimit, strconv.FormatInt((one.ActivationBytes+three.ActivationBytes)/2, 10))
	out := filepath.Join(t.TempDir(), "f.npz")
	_, stderr, err := runCmd(t, args(out)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "running batches of") || !strings.Contains(stderr, "not enough memory") {
		t.Errorf("no note about splitting the batch:\n%s", stderr)
	}
	got := readNPZ(t, out)
	want := readNPZ(t, filepath.Join(tv, "resnet18_odd_expected.npz"))
	for _, name := range []string{"layer1", "prob"} {
		if e := layertest.NormErr(got[name].Data, want[name].Data); !(e < 1e-4) || len(got[name].Data) != len(want[name].Data) {
			t.Errorf("%s after splitting: normalised error %.3g", name, e)
		}
	}
	t.Setenv(EnvMemoryLimit, strconv.FormatInt(one.ActivationBytes/2, 10))
	_, _, err = runCmd(t, args(filepath.Join(t.TempDir(), "g.npz"))...)
	if err == nil || !strings.Contains(err.Error(), "not even one image fits") {
		t.Errorf("a limit of 10K: got %v", err)
	}
}

// TestOutIsDirectory: an --out that is a directory fails before any work.
func TestOutIsDirectory(t *testing.T) {
	_, _, err := runCmd(t, "features", "--device", "cpu", "--weights", "random:vgg16", "--input",
		filepath.Join(golden, "vgg16_input.npy"), "--layers", "pool1", "--out", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("got %v, want an error saying --out is a directory", err)
	}
}

// TestInterrupt sends SIGINT to a long `vkvgg features` run: it must stop
// within seconds with status 130, leaving no temporary file and no --out.
func TestInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "vkvgg")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	in := filepath.Join(dir, "x.npy")
	writeNPY(t, in, []int{4, 224, 224, 3}, func(i int) float32 { return float32(i%255) / 255 })
	out := filepath.Join(dir, "out", "f.npz")
	os.Mkdir(filepath.Dir(out), 0o755)
	// The CPU reference takes tens of seconds per VGG16 image.
	cmd := exec.Command(bin, "features", "--device", "cpu", "--weights", "random:vgg16", "--input", in, "--layers", "fc7", "--batch", "1", "--out", out)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the network runs (loading random weights takes seconds).
	for i := 0; i < 300 && !strings.Contains(stderr.String(), "loaded in"); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	start := time.Now()
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	took := time.Since(start)
	t.Logf("exited %v after SIGINT in %v; stderr:\n%s", err, took, stderr.String())
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Errorf("exit: %v, want status 130", err)
	}
	if took > 10*time.Second {
		t.Errorf("took %v to stop", took)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "*"))
	if len(left) > 0 {
		t.Errorf("files left in the output folder: %v", left)
	}
}

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// buildCmd builds the command once per test.
func buildCmd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vkvgg")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestExtractKilled kills `vkvgg extract` with SIGKILL at several moments,
// reruns it each time, and expects the same shards, byte for byte, as an
// uninterrupted run.
func TestExtractKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command and runs it many times")
	}
	bin := buildCmd(t)
	data := testdev.ImageFolder(t, "../..", 30)
	args := func(out string) []string {
		// The CPU reference at 80x80: about 0.1 s per image.
		return []string{"extract", "--device", "cpu", "--weights", "random:resnet18", "--layers", "layer2,avgpool",
			"--size", "80", "--batch", "3", "--shard", "4", "--out", out, data}
	}
	ref := filepath.Join(t.TempDir(), "ref")
	start := time.Now()
	if out, err := exec.Command(bin, args(ref)...).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}
	full := time.Since(start)
	out := filepath.Join(t.TempDir(), "killed")
	for i, frac := range []float64{0.15, 0.4, 0.55, 0.8} {
		cmd := exec.Command(bin, args(out)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(frac * float64(full)))
		cmd.Process.Kill()
		cmd.Wait()
		parts, _ := filepath.Glob(filepath.Join(out, "part-*.npz"))
		t.Logf("kill %d after %.0f%% of a %v run: %d shards on disk", i, 100*frac, full.Round(time.Millisecond), len(parts))
	}
	if b, err := exec.Command(bin, args(out)...).CombinedOutput(); err != nil {
		t.Fatalf("final run: %v\n%s", err, b)
	} else if !strings.Contains(string(b), "extracted 30 images, skipped 1") {
		t.Errorf("final run printed:\n%s", b)
	}
	want, _ := filepath.Glob(filepath.Join(ref, "*"))
	if len(want) != 8+3 { // 8 shards of 4 candidates, manifest, classes, skipped
		t.Fatalf("reference output: %v", want)
	}
	for _, w := range want {
		name := filepath.Base(w)
		a, _ := os.ReadFile(w)
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Errorf("%s missing after the killed runs", name)
			continue
		}
		if name != "manifest.json" && !bytes.Equal(a, b) {
			t.Errorf("%s differs from the uninterrupted run's", name)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(out, ".tmp-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestExtractProgress: under a pseudo-terminal (script(1)) the progress
// bar redraws in place with carriage returns; piped, vkvgg prints plain
// lines.
func TestExtractProgress(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("no script(1) to make a pseudo-terminal")
	}
	bin := buildCmd(t)
	data := testdev.ImageFolder(t, "../..", 12)
	args := []string{"extract", "--device", "cpu", "--weights", "random:resnet18", "--layers", "avgpool", "--size", "64", "--batch", "2", "--shard", "4"}
	piped, err := exec.Command(bin, append(args, "--out", filepath.Join(t.TempDir(), "a"), data)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, piped)
	}
	if strings.Contains(string(piped), "\r") || !strings.Contains(string(piped), "vkvgg: extract: 13/13 images") {
		t.Errorf("piped output:\n%q", piped)
	}
	line := bin + " " + strings.Join(append(args, "--out", filepath.Join(t.TempDir(), "b"), data), " ")
	tty, err := exec.Command(script, "-qefc", line, "/dev/null").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, tty)
	}
	if !strings.Contains(string(tty), "\r") || strings.Contains(string(tty), "vkvgg: extract: ") || !strings.Contains(string(tty), "extracted 12 images") {
		t.Errorf("terminal output:\n%q", tty)
	}
}

// TestTrainPredict runs the whole workflow on a labelled folder: extract
// features, train a head, predict with the network and the head as one
// graph. The predictions equal the head's formula on the extracted
// features, on the CPU reference and on the device.
func TestTrainPredict(t *testing.T) {
	data := testdev.ImageFolder(t, "../..", 24)
	dir := t.TempDir()
	feats := filepath.Join(dir, "feats")
	w := "../../testdata/tv/resnet18.pth"
	if _, stderr, err := runCmd(t, "extract", "--device", "cpu", "--weights", w, "--layers", "layer3", "--pool", "avg", "--size", "64", "--out", feats, data); err != nil {
		t.Fatalf("extract: %v\n%s", err, stderr)
	}
	head := filepath.Join(dir, "head.npz")
	plot := filepath.Join(dir, "curves.png")
	stdout, stderr, err := runCmd(t, "train", "--features", feats, "--head", "mlp", "--hidden", "16", "--epochs", "30", "--lr", "0.01", "--val", "0.25", "--out", head, "--plot", plot)
	if err != nil {
		t.Fatalf("train: %v\n%s", err, stderr)
	}
	for _, want := range []string{"epoch   1", "kept epoch", "confusion matrix", "class2", "wrote " + head} {
		if !strings.Contains(stdout, want) {
			t.Errorf("train output lacks %q:\n%s", want, stdout)
		}
	}
	if b, err := os.ReadFile(plot); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("no PNG plot: %v", err)
	}
	h, err := heads.Load(head)
	if err != nil {
		t.Fatal(err)
	}
	// The formula on the extracted features, image by image.
	ms, err := npy.ReadNPZMembers(filepath.Join(feats, "part-00000.npz"))
	if err != nil {
		t.Fatal(err)
	}
	var x []float32
	var paths []string
	for _, m := range ms {
		switch m.Name {
		case "layer3":
			x = m.Float32
		case "paths":
			paths = m.Unicode
		}
	}
	want, err := h.Predict(x, len(paths))
	if err != nil {
		t.Fatal(err)
	}
	for _, device := range []string{"cpu", device(t)} {
		csvPath := filepath.Join(dir, "preds-"+device+".csv")
		if _, stderr, err := runCmd(t, "predict", "--device", device, "--weights", w, "--head", head, "--out", csvPath, data); err != nil {
			t.Fatalf("predict: %v\n%s", err, stderr)
		}
		f, _ := os.Open(csvPath)
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil || len(recs) != len(paths)+1 {
			t.Fatalf("predict CSV: %v, %d rows for %d images", err, len(recs), len(paths))
		}
		for i, rec := range recs[1:] {
			if rec[0] != paths[i] {
				t.Fatalf("row %d is %s, want %s", i, rec[0], paths[i])
			}
			for j, s := range rec[2:] {
				got, _ := strconv.ParseFloat(s, 64)
				if math.Abs(got-want[i*len(h.Classes)+j]) > 1e-4 {
					t.Errorf("device %q image %d class %d: %v, the formula on the features gives %v", device, i, j, got, want[i*len(h.Classes)+j])
				}
			}
		}
	}
	// A head whose feature size does not match the network.
	if _, _, err := runCmd(t, "predict", "--device", "cpu", "--weights", "../../testdata/tv/alexnet.pth", "--head", head, data); err == nil || !strings.Contains(err.Error(), "alexnet") {
		t.Errorf("a head on another network: got %v", err)
	}
}

// TestMain keeps the tests out of the user's pipeline cache, and fails
// the run if a test left a device open (testdev.Main).
func TestMain(m *testing.M) {
	os.Setenv(EnvPipelineCache, "off")
	testdev.Main(m)
}

// TestExtractMemoryLimit: a new extraction whose batch does not fit the
// memory runs smaller batches; a begun one keeps its batch and says so.
func TestExtractMemoryLimit(t *testing.T) {
	data := testdev.ImageFolder(t, "../..", 6)
	w := "../../testdata/tv/resnet18.pth"
	net, err := models.Load(w, models.Options{Device: models.DeviceCPU})
	if err != nil {
		t.Fatal(err)
	}
	two, _ := net.Plan(graph.Batch{N: 2, H: 64, W: 64}, "avgpool")
	net.Close()
	t.Setenv(EnvMemoryLimit, strconv.FormatInt(two.ActivationBytes, 10))
	out := filepath.Join(t.TempDir(), "f")
	stdout, stderr, err := runCmd(t, "extract", "--device", "cpu", "--weights", w, "--layers", "avgpool", "--size", "64", "--batch", "8", "--out", out, data)
	if err != nil || !strings.Contains(stderr, "ran batches of 2") || !strings.Contains(stdout, "extracted 6 images") {
		t.Errorf("extract under a memory limit: %v\n%s%s", err, stdout, stderr)
	}
}

// TestGrid draws a layer's maps as a labelled PNG grid (and the old
// name maps without labels), a heatmap over the photo, and refuses a
// vector layer, a bad channel range and an out-of-range channel.
func TestGrid(t *testing.T) {
	dir := t.TempDir()
	out, heat := filepath.Join(dir, "g.png"), filepath.Join(dir, "h.png")
	w := "../../testdata/tv/resnet18.pth"
	stdout, stderr, err := runCmd(t, "grid", "--device", "cpu", "--weights", w, "--layer", "layer1",
		"--size", "64", "--channels", "3-7", "--out", out, "--heatmap", heat, "../../testdata/images/chelsea.jpg")
	if err != nil || !strings.Contains(stdout, "channels 3-7 drawn") || !strings.Contains(stdout, "mean activation") {
		t.Fatalf("%v\n%s%s", err, stdout, stderr)
	}
	// layer1 at 64x64 is 16x16: 3 columns of 64-pixel tiles, 2 rows, a header.
	if b := decodePNG(t, out).Bounds(); b.Dx() != 3*65-1 || b.Dy() != viz.HeaderHeight+2*65-1 {
		t.Errorf("grid %v", b)
	}
	if b := decodePNG(t, heat).Bounds(); b.Dx() != 64 || b.Dy() != 64 {
		t.Errorf("heatmap %v, want the 64x64 input", b)
	}
	if _, _, err := runCmd(t, "maps", "--device", "cpu", "--weights", w, "--layer", "layer1", "--labels=false",
		"--size", "64", "--channels", "5", "--out", out, "../../testdata/images/chelsea.jpg"); err != nil {
		t.Fatal(err)
	}
	if b := decodePNG(t, out).Bounds(); b.Dx() != 3*65-1 || b.Dy() != 2*65-1 {
		t.Errorf("unlabelled grid %v", b)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--layer", "fc"}, "only maps"},
		{[]string{"--layer", "layer1", "--channels", "9-2"}, "A-B"},
		{[]string{"--layer", "layer1", "--channels", "64-70"}, "has 8 channels"},
		{[]string{"--layer", "layer1", "--alpha", "2"}, "--alpha"},
		{[]string{"--layer", "layer1", "--heatmap", dir}, "is a directory"},
	} {
		args := append([]string{"grid", "--device", "cpu", "--weights", w, "--size", "64", "--out", out}, c.args...)
		if _, _, err := runCmd(t, append(args, "../../testdata/images/chelsea.jpg")...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want %q", c.args, err, c.want)
		}
	}
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// segFolder writes n generated images (textured background, a red
// square, a blue disc) of w x h as PNGs in dir/images and their masks
// (palette PNGs of class ids) in dir/masks.
func segFolder(t *testing.T, dir string, n, w, h int) {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "images"), 0o755)
	os.MkdirAll(filepath.Join(dir, "masks"), 0o755)
	rng := rand.New(rand.NewPCG(5, 5))
	pal := color.Palette{color.Black, color.RGBA{128, 0, 0, 255}, color.RGBA{0, 128, 0, 255}}
	for i := range n {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		m := image.NewPaletted(image.Rect(0, 0, w, h), pal)
		sq := [3]int{rng.IntN(h / 2), rng.IntN(w / 2), h/4 + rng.IntN(h/4)}
		dc := [3]int{h/4 + rng.IntN(h/2), w/4 + rng.IntN(w/2), h/8 + rng.IntN(h/8)}
		for y := range h {
			for x := range w {
				g := uint8(80 + rng.IntN(100))
				c, lab := color.RGBA{g, g, g, 255}, uint8(0)
				if dy, dx := y-dc[0], x-dc[1]; dy*dy+dx*dx <= dc[2]*dc[2] {
					c, lab = color.RGBA{25, 50, 230, 255}, 2
				}
				if y >= sq[0] && y < sq[0]+sq[2] && x >= sq[1] && x < sq[1]+sq[2] {
					c, lab = color.RGBA{230, 25, 25, 255}, 1
				}
				img.SetRGBA(x, y, c)
				m.SetColorIndex(x, y, lab)
			}
		}
		for _, f := range []struct {
			path string
			img  image.Image
		}{{filepath.Join(dir, "images", fmt.Sprintf("s%02d.png", i)), img}, {filepath.Join(dir, "masks", fmt.Sprintf("s%02d.png", i)), m}} {
			fh, err := os.Create(f.path)
			if err != nil {
				t.Fatal(err)
			}
			png.Encode(fh, f.img)
			fh.Close()
		}
	}
}

// TestSegmentation trains an FCN head through the command on generated
// images and masks, predicts masks for images of other sizes, and checks
// the errors for a missing mask and out-of-range class ids.
func TestSegmentation(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "set")
	segFolder(t, data, 24, 64, 64)
	classes := filepath.Join(dir, "classes.txt")
	os.WriteFile(classes, []byte("background\nsquare\ndisc\n"), 0o644)
	head := filepath.Join(dir, "seg.npz")
	w := "../../testdata/tv/vgg16.pth"
	stdout, stderr, err := runCmd(t, "train", "--head", "fcn", "--device", "cpu", "--weights", w, "--layer", "features.16", "--size", "64",
		"--data", data, "--classes", classes, "--epochs", "40", "--lr", "0.02", "--batch", "6", "--val", "0.25", "--out", head)
	if err != nil {
		t.Fatalf("train: %v\n%s%s", err, stdout, stderr)
	}
	var miou, base float64
	for _, line := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(line, "kept epoch") {
			fmt.Sscanf(line[strings.Index(line, "mean IoU"):], "mean IoU %f", &miou)
			fmt.Sscanf(line[strings.LastIndex(line, "mean IoU"):], "mean IoU %f", &base)
		}
	}
	t.Logf("mean IoU %.3f, all-background %.3f", miou, base)
	if miou < base+0.2 {
		t.Errorf("mean IoU %.3f against the baseline's %.3f:\n%s", miou, base, stdout)
	}
	other := filepath.Join(dir, "other")
	segFolder(t, other, 2, 80, 56)
	masks := filepath.Join(dir, "masks")
	for _, device := range []string{"cpu", device(t)} {
		if _, stderr, err := runCmd(t, "predict", "--device", device, "--weights", w, "--head", head, "--masks", masks, "--overlay", filepath.Join(other, "images")); err != nil {
			t.Fatalf("predict: %v\n%s", err, stderr)
		}
		for _, name := range []string{"s00.png", "s01.png", "s00_overlay.png"} {
			f, err := os.Open(filepath.Join(masks, name))
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(f)
			f.Close()
			if err != nil || img.Bounds().Dx() != 80 || img.Bounds().Dy() != 56 {
				t.Fatalf("%s: %v, %v; want 80x56", name, err, img.Bounds())
			}
			if p, ok := img.(*image.Paletted); ok {
				for _, v := range p.Pix {
					if v > 2 {
						t.Fatalf("%s holds class %d of 3", name, v)
					}
				}
			} else if !strings.Contains(name, "overlay") {
				t.Fatalf("%s is a %T, want a palette PNG", name, img)
			}
		}
	}
	// A missing mask, and ids beyond the classes.
	os.Remove(filepath.Join(data, "masks", "s03.png"))
	if _, _, err := runCmd(t, "train", "--head", "fcn", "--device", "cpu", "--weights", w, "--layer", "features.16", "--size", "64", "--data", data, "--out", head); err == nil || !strings.Contains(err.Error(), "no mask") {
		t.Errorf("a missing mask: got %v", err)
	}
	os.Remove(filepath.Join(data, "images", "s03.png"))
	os.WriteFile(classes, []byte("background\nsquare\n"), 0o644)
	if _, _, err := runCmd(t, "train", "--head", "fcn", "--device", "cpu", "--weights", w, "--layer", "features.16", "--size", "64", "--data", data, "--classes", classes, "--out", head); err == nil || !strings.Contains(err.Error(), "beyond the 2 classes") {
		t.Errorf("ids beyond the classes: got %v", err)
	}
}

// TestBench: bench prints the network, device and work per image, ms per
// image, images/s and GFLOP/s per batch and precision, and with --profile
// a table of every layer whose shares add up to the whole, and where the
// run's time went (host phases, GPU time in and between dispatches), and
// the GPU time of each kernel.
func TestBench(t *testing.T) {
	dev := device(t)
	stdout, stderr, err := runCmd(t, "bench", "--device", dev, "--weights", "../../testdata/tv/resnet18.pth", "--size", "64",
		"--batches", "1,2", "--iters", "1", "--profile", "--precision", "fp32,fp16")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, want := range []string{"resnet18 (torchvision) on ", ", 64x64", "GFLOP per image", "batch 1, fp32: ", "batch 2, fp32: ", "batch 1, fp16: ", "batch 2, fp16: ",
		"GFLOP/s)", "share", "layer1.0.conv1", "fc ", "  fp16:", "  run ", "input check ", "readback ", "ms in dispatches", " submissions", "  by kernel: "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("no %q in:\n%s", want, stdout)
		}
	}
	// The shares of the last table (fp16, batch 2) add up to 100%.
	tables := strings.Split(stdout, "  fp16:")
	sum := 0.0
	for _, line := range strings.Split(tables[len(tables)-1], "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && strings.HasSuffix(f[2], "%") {
			v, err := strconv.ParseFloat(strings.TrimSuffix(f[2], "%"), 64)
			if err != nil {
				t.Fatalf("share %q: %v", f[2], err)
			}
			sum += v
		}
	}
	if math.Abs(sum-100) > 1 {
		t.Errorf("the shares add up to %.1f%%:\n%s", sum, stdout)
	}
}

// TestTune: vkvgg tune times every choice of a network again, prints each
// with its candidates' times and saves them in the pipeline cache
// folder, where the next load finds them; it refuses the CPU reference.
func TestTune(t *testing.T) {
	device(t) // skips without a Vulkan device
	dir := t.TempDir()
	t.Setenv(EnvPipelineCache, dir)
	out, _, err := runCmd(t, "tune", "--weights", "../../testdata/tv/resnet18.pth", "--size", "40", "--batches", "1,2", "--rounds", "2")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	if !strings.Contains(last, "choices for resnet18") || !strings.Contains(last, "2 rounds per candidate") || !strings.Contains(last, "saved in "+dir) {
		t.Fatalf("last line %q", last)
	}
	var n int
	if _, err := fmt.Sscanf(last, "%d choices", &n); err != nil || n < 4 || n != len(lines)-1 {
		t.Errorf("%d choices announced, %d listed:\n%s", n, len(lines)-1, out)
	}
	for _, l := range lines[:len(lines)-1] {
		if !strings.Contains(l, " ms") || !strings.Contains(l, "(") {
			t.Errorf("a choice without its times: %q", l)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "tuning-*.json"))
	if len(files) != 1 {
		t.Fatalf("tuning files %v in %s", files, dir)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var saved map[string]string
	if err := json.Unmarshal(b, &saved); err != nil || len(saved) != n+1 { // and the kernels' version
		t.Errorf("the tuning file holds %d entries (%v), want %d choices and the kernels' version", len(saved), err, n)
	}
	for _, args := range [][]string{
		{"tune", "--device", "cpu", "--weights", "random:resnet18", "--size", "40"},
		{"tune", "--weights", "random:resnet18", "--rounds", "0"},
	} {
		if _, _, err := runCmd(t, args...); err == nil {
			t.Errorf("vkvgg %s: accepted", strings.Join(args, " "))
		}
	}
}

// copyImages copies sample images (paths under testdata/images) into dir
// under new names.
func copyImages(t *testing.T, dir string, names map[string]string) {
	t.Helper()
	for from, to := range names {
		data, err := os.ReadFile(filepath.Join("../../testdata/images", from))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, to), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFolderInputs: features, classify and validate take folders as view
// and predict do: their image files, recursively in lexical order, other
// files left out. features decodes them a batch at a time and lists the
// files it read in a "paths" member, one per row, and each row is its own
// image's (the same values as for that file given alone); with --size 0
// an image of another size than the first fails by name from its header;
// a folder without images and a layer named "paths" are refused.
func TestFolderInputs(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	copyImages(t, sub, map[string]string{"small/tiny.png": "a.png", "small/tiny_gray.jpg": "b.JPG"})
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, b := filepath.Join(sub, "a.png"), filepath.Join(sub, "b.JPG")
	base := []string{"--device", "cpu", "--weights", "random:resnet18", "--size", "32"}
	out := filepath.Join(t.TempDir(), "f.npz")
	// A batch of one image at a time, with the progress as extract
	// prints it where stderr is no terminal.
	_, stderr, err := runCmd(t, append(append([]string{"features"}, base...), "--batch", "1", "--layers", "avgpool", "--out", out, dir)...)
	if err != nil {
		t.Fatalf("features on a folder: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "vkvgg: features: 1/2 images") || !strings.Contains(stderr, "vkvgg: features: 2/2 images") {
		t.Errorf("features' progress:\n%s", stderr)
	}
	members, err := npy.ReadNPZMembers(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != 2 || members[1].Name != "paths" || !slices.Equal(members[1].Unicode, []string{a, b}) {
		t.Fatalf("features on a folder wrote %+v, want avgpool then paths %v", members, []string{a, b})
	}
	one := filepath.Join(t.TempDir(), "one.npz")
	if _, stderr, err := runCmd(t, append(append([]string{"features"}, base...), "--layers", "avgpool", "--out", one, b)...); err != nil {
		t.Fatalf("features on one file: %v\n%s", err, stderr)
	}
	alone := readNPZ(t, one)["avgpool"]
	if got := members[0].Float32[512:]; !slices.Equal(got, alone.Data) {
		t.Errorf("the folder's second row differs from %s's own features", b)
	}
	cls := []string{"classify", "--device", "cpu", "--weights", "random:resnet18", "--top", "1"}
	stdout, stderr, err := runCmd(t, append(cls, dir)...)
	if err != nil || !strings.Contains(stdout, a+":") || !strings.Contains(stdout, b+":") || strings.Contains(stdout, "notes") {
		t.Errorf("classify on a folder: %v\n%s%s", err, stdout, stderr)
	}
	// With --size 0 a later image of another size fails from its
	// header, before any work, naming it; nothing is written.
	mixed := t.TempDir()
	copyImages(t, mixed, map[string]string{"small/tiny.png": "1.png", "coffee_rgba.png": "2.png"})
	mixedOut := filepath.Join(t.TempDir(), "m.npz")
	_, _, err = runCmd(t, "features", "--device", "cpu", "--weights", "random:resnet18", "--size", "0", "--batch", "1", "--layers", "avgpool", "--out", mixedOut, mixed)
	if err == nil || !strings.Contains(err.Error(), "2.png") || !strings.Contains(err.Error(), "same size") {
		t.Errorf("features --size 0 on images of two sizes: %v", err)
	}
	if _, err := os.Stat(mixedOut); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed features left %s: %v", mixedOut, err)
	}
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCmd(t, append(cls, empty)...); err == nil || !strings.Contains(err.Error(), "no image files") {
		t.Errorf("classify on a folder without images: %v", err)
	}
	if _, _, err := runCmd(t, append(append([]string{"features"}, base...), "--layers", "paths", "--out", out, dir)...); err == nil || !strings.Contains(err.Error(), "clash") {
		t.Errorf("features --layers paths: %v", err)
	}
	// Last: it needs a Vulkan device, and skips without one.
	t.Run("validate", func(t *testing.T) {
		stdout, stderr, err := runCmd(t, "validate", "--device", device(t), "--weights", "random:resnet18", "--size", "32", "--layers", "avgpool", dir)
		if err != nil || !strings.Contains(stdout, "2 image(s)") {
			t.Errorf("validate on a folder: %v\n%s%s", err, stdout, stderr)
		}
	})
}
