//go:build cgo

package viewer

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-gl/glfw/v3.3/glfw"

	"github.com/vkvgg/vkvgg/images"
	"github.com/vkvgg/vkvgg/internal/testdev"
)

// envResizeChild marks the test binary that TestResize runs under
// xvfb-run.
const envResizeChild = "VKVGG_TEST_RESIZE_CHILD"

// TestResize: the window is resizable. When it becomes 700x480 during a
// run (and then 900x700), the viewer makes a new swapchain and canvas of
// the new size, with the validation layer silent: the last frame's
// screenshot is 900x700 and shows the photo where Layout puts it for
// that size. The test runs itself again under xvfb-run, as TestView
// runs the command.
func TestResize(t *testing.T) {
	if os.Getenv(envResizeChild) == "" {
		testdev.Open(t) // skips or fails as the GPU tests do
		xvfb := testdev.Xvfb(t)
		args := []string{"-test.run=^TestResize$", "-test.v", "-test.count=1"}
		cmd := exec.Command(os.Args[0], args...)
		if xvfb != "" {
			cmd = exec.Command(xvfb, append([]string{"-a", os.Args[0]}, args...)...)
		}
		cmd.Env = append(os.Environ(), envResizeChild+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestResize") {
			t.Fatalf("the viewer under xvfb-run: %v\n%s", err, out)
		}
		t.Logf("%s", out)
		return
	}
	const photo = "../testdata/images/chelsea.jpg"
	shot := filepath.Join(t.TempDir(), "s.png")
	var log bytes.Buffer
	sizes := map[int][2]int{3: {700, 480}, 7: {900, 700}}
	o := Options{Weights: "random:vgg16", Layer: "conv1_2", Images: []string{photo}, Frames: 12, Screenshot: shot,
		Validation: true, Log: &log,
		beforeFrame: func(frame int, win *glfw.Window) {
			if s, ok := sizes[frame]; ok {
				win.SetSize(s[0], s[1])
			}
		}}
	if err := Run(context.Background(), o); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	t.Logf("%s", log.String())
	for _, want := range []string{"window 700x480", "window 900x700"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the viewer did not report %q:\n%s", want, log.String())
		}
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pic, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := pic.Bounds(); b.Dx() != 900 || b.Dy() != 700 {
		t.Fatalf("screenshot %v, want the 900x700 window", b)
	}
	// The photo's rectangle shows the photo: its mean colour is the
	// photo's, within a few levels of the scaling.
	img, err := images.LoadVGG(photo, 224)
	if err != nil {
		t.Fatal(err)
	}
	var want [3]float64
	for i, v := range img.Pix {
		want[i%3] += float64(v) * 255 / float64(len(img.Pix)/3)
	}
	rect, _, _, _, _ := Layout(900, 700, 224, 224, 64)
	var got [3]float64
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		for x := rect.Min.X; x < rect.Max.X; x++ {
			r, g, b, _ := pic.At(x, y).RGBA()
			for i, v := range []uint32{r, g, b} {
				got[i] += float64(v>>8) / float64(rect.Dx()*rect.Dy())
			}
		}
	}
	for i := range got {
		if d := got[i] - want[i]; d > 4 || d < -4 {
			t.Errorf("the photo's rectangle %v at 900x700 has mean colour %.1f, the photo %.1f", rect, got, want)
			break
		}
	}
}
