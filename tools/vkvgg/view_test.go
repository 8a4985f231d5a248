//go:build cgo && !noview

package main

import (
	"image/color"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vkvgg/vkvgg/internal/testdev"
	"github.com/vkvgg/vkvgg/npy"
	"github.com/vkvgg/vkvgg/viewer"
	"github.com/vkvgg/vkvgg/viz"
)

// TestView runs the viewer as CI does, `xvfb-run vkvgg view ... --frames 3
// --screenshot s.png` with the validation layer on, and checks its
// screenshot against the feature maps `vkvgg features` returns: each tile,
// read back through the colour map, correlates with its own channel
// almost perfectly and better than with every other channel.
func TestView(t *testing.T) {
	testdev.Open(t) // skips or fails as the GPU tests do
	xvfb := testdev.Xvfb(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "vkvgg")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	img := "../../testdata/images/chelsea.jpg"
	feats := filepath.Join(dir, "f.npz")
	if _, stderr, err := runCmd(t, "features", "--weights", "random:vgg16", "--layers", "conv1_2", "--out", feats, img); err != nil {
		t.Fatalf("features: %v\n%s", err, stderr)
	}
	m := readNPZ(t, feats)["conv1_2"]
	// fp16 maps (the engine's fp16 Net on the application's device, drawn
	// by the fp16 kernels) are checked against the same float32 map.
	for _, prec := range []string{"fp32", "fp16"} {
		t.Run(prec, func(t *testing.T) { checkView(t, bin, xvfb, img, prec, m) })
	}
}

// checkView runs the viewer in precision prec and checks its screenshot
// against conv1_2's map m.
func checkView(t *testing.T, bin, xvfb, img, prec string, m npy.Array) {
	shot := filepath.Join(t.TempDir(), "s.png")
	args := []string{"view", "--weights", "random:vgg16", "--layer", "conv1_2", "--frames", "3", "--screenshot", shot, "--validation", "--precision", prec, img}
	cmd := exec.Command(bin, args...)
	if xvfb != "" {
		cmd = exec.Command(xvfb, append([]string{"-a", bin}, args...)...)
	}
	out, err := cmd.CombinedOutput()
	want := "vgg16 (tensorflow-vgg), conv1_2 [1 224 224 64]"
	if prec != "fp32" {
		want = "vgg16 (tensorflow-vgg) " + prec + ", conv1_2 [1 224 224 64]"
	}
	if err != nil || !strings.Contains(string(out), want) {
		t.Fatalf("vkvgg view: %v\n%s", err, out)
	}
	pic := decodePNG(t, shot)
	if b := pic.Bounds(); b.Dx() != 1024 || b.Dy() != 640 {
		t.Fatalf("screenshot %v, want the 1024x640 window", b)
	}
	h, w, c := m.Shape[1], m.Shape[2], m.Shape[3]
	_, grid, tw, th, cols := viewer.Layout(1024, 640, h, w, c)
	// t of each tile pixel through the inverse colour map, and the map
	// pixel it shows.
	inverse := map[color.RGBA]float64{}
	lut := make([]color.RGBA, 1024)
	for i := range lut {
		lut[i] = viz.Colour(float64(i) / 1023)
	}
	level := func(col color.RGBA) float64 {
		if v, ok := inverse[col]; ok {
			return v
		}
		best, bi := math.Inf(1), 0
		for i, l := range lut {
			d := sq(int(col.R)-int(l.R)) + sq(int(col.G)-int(l.G)) + sq(int(col.B)-int(l.B))
			if float64(d) < best {
				best, bi = float64(d), i
			}
		}
		inverse[col] = float64(bi) / 1023
		return inverse[col]
	}
	worst, margin := 1.0, 1.0
	for i := range c {
		x0, y0 := grid.X+(i%cols)*(tw+1), grid.Y+(i/cols)*(th+1)
		var ts []float64
		var at []int
		for y := 0; y < th; y += 2 {
			for x := 0; x < tw; x += 2 {
				r, g, b, _ := pic.At(x0+x, y0+y).RGBA()
				ts = append(ts, level(color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 255}))
				at = append(at, (y*h/th*w+x*w/tw)*c)
			}
		}
		own, other := 0.0, -1.0
		for j := range c {
			vals := make([]float64, len(at))
			for k, p := range at {
				vals[k] = float64(m.Data[p+j])
			}
			r := corr(ts, vals)
			if j == i {
				own = r
			} else {
				other = max(other, r)
			}
		}
		if math.IsNaN(own) { // a channel that is constant on the image: drawn flat
			continue
		}
		worst, margin = min(worst, own), min(margin, own-other)
		if !(own > 0.98) || !(own > other+0.05) {
			t.Errorf("tile %d: correlation %.3f with its channel, up to %.3f with another", i, own, other)
		}
	}
	t.Logf("tiles against their channels: lowest correlation %.4f, smallest lead over any other channel %.4f", worst, margin)
}

func sq(x int) int { return x * x }

func corr(a, b []float64) float64 {
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= float64(len(a))
	mb /= float64(len(b))
	var sab, saa, sbb float64
	for i := range a {
		sab += (a[i] - ma) * (b[i] - mb)
		saa += (a[i] - ma) * (a[i] - ma)
		sbb += (b[i] - mb) * (b[i] - mb)
	}
	return sab / math.Sqrt(saa*sbb)
}
