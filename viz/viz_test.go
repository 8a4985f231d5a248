package viz

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vkvgg/vkvgg/graph"
)

func TestGrid(t *testing.T) {
	// 2 images of 3x4 with 5 channels; channel k of image 1 ramps with x,
	// channel 4 is constant.
	n, h, w, c := 2, 3, 4, 5
	f := graph.Feature{Name: "m", Shape: []int{n, h, w, c}, Data: make([]float32, n*h*w*c)}
	for y := range h {
		for x := range w {
			for k := range 4 {
				f.Data[((1*h+y)*w+x)*c+k] = float32(x*(k+1)) - 3
			}
			f.Data[((1*h+y)*w+x)*c+4] = 7
		}
	}
	img, err := Grid(f, Options{Image: 1, Cols: 3, Scale: 2})
	if err != nil {
		t.Fatal(err)
	}
	// 3 columns, 2 rows of 8x6 tiles one pixel apart.
	if b := img.Bounds(); b.Dx() != 3*9-1 || b.Dy() != 2*7-1 {
		t.Fatalf("picture %v", b)
	}
	if got := img.RGBAAt(0, 0); got != Colour(0) {
		t.Errorf("channel 0 at x=0: %v, want the low end %v", got, Colour(0))
	}
	if got := img.RGBAAt(7, 5); got != Colour(1) {
		t.Errorf("channel 0 at x=3: %v, want the high end %v", got, Colour(1))
	}
	if got := img.RGBAAt(8, 0); got.R != 255 || got.G != 255 {
		t.Errorf("the gap between tiles is %v, want white", got)
	}
	if got := img.RGBAAt(9+2, 7+2); got != Colour(0) {
		t.Errorf("a constant channel: %v, want the low end", got)
	}
	path := filepath.Join(t.TempDir(), "g.png")
	if err := WritePNG(path, img); err != nil {
		t.Fatal(err)
	}
	fh, _ := os.Open(path)
	defer fh.Close()
	if back, err := png.Decode(fh); err != nil || back.Bounds() != img.Bounds() {
		t.Errorf("PNG read back: %v", err)
	}
	if _, err := Grid(graph.Feature{Name: "fc7", Shape: []int{1, 4096}, Data: make([]float32, 4096)}, Options{}); err == nil || !strings.Contains(err.Error(), "only maps") {
		t.Errorf("a vector: got %v", err)
	}
}

// TestGridLabelsAndRange draws channels 2-3 of 5 with labels: the header
// holds dark text, each tile its number, and the tiles are channels 2, 3.
func TestGridLabelsAndRange(t *testing.T) {
	h, w, c := 4, 6, 5
	f := graph.Feature{Name: "conv9", Shape: []int{1, h, w, c}, Data: make([]float32, h*w*c)}
	for p := range h * w {
		for k := range c {
			f.Data[p*c+k] = float32((p*(k+3))%11) - 2.5
		}
	}
	img, err := Grid(f, Options{First: 2, Count: 2, Scale: 10, Labels: true})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := NewLayout(h, w, 2, 0, 10, true)
	if img.Bounds().Dx() != l.Width() || img.Bounds().Dy() != l.Height() || l.Top != HeaderHeight {
		t.Fatalf("picture %v, layout %+v", img.Bounds(), l)
	}
	dark := 0
	for y := range HeaderHeight {
		for x := range img.Bounds().Dx() {
			if img.RGBAAt(x, y).R < 100 {
				dark++
			}
		}
	}
	if dark < 50 {
		t.Errorf("the header has %d dark pixels: no title written", dark)
	}
	plain, err := Grid(f, Options{First: 2, Count: 2, Scale: 10})
	if err != nil {
		t.Fatal(err)
	}
	// Away from the label, the labelled tile equals the plain one, and
	// the plain tile's pixels are channel 2's.
	for i, k := range []int{2, 3} {
		r := l.Tile(i)
		pr, _ := NewLayout(h, w, 2, 0, 10, false)
		q := pr.Tile(i)
		lo, hi := math.Inf(1), math.Inf(-1)
		for p := range h * w {
			v := float64(f.Data[p*c+k])
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		for y := 2; y < h; y++ {
			for x := range w {
				want := Colour((float64(f.Data[(y*w+x)*c+k]) - lo) / (hi - lo))
				if got := img.RGBAAt(r.Min.X+x*10+5, r.Min.Y+y*10+5); got != want {
					t.Fatalf("channel %d at (%d,%d): %v, want %v", k, x, y, got, want)
				}
				if got := plain.RGBAAt(q.Min.X+x*10+5, q.Min.Y+y*10+5); got != want {
					t.Fatalf("unlabelled channel %d at (%d,%d): %v, want %v", k, x, y, got, want)
				}
			}
		}
		if l.At(r.Min.X+3, r.Min.Y+3) != i || l.At(r.Max.X, r.Min.Y) != -1 || l.At(3, 3) != -1 {
			t.Errorf("Layout.At does not find tile %d", i)
		}
	}
	for _, bad := range []Options{{First: 5}, {First: -1}, {Count: -2}} {
		if _, err := Grid(f, bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

func TestParseChannels(t *testing.T) {
	for s, want := range map[string][2]int{"": {0, 0}, "64": {0, 64}, "0-63": {0, 64}, "10-10": {10, 1}, " 3-5 ": {3, 3}} {
		a, n, err := ParseChannels(s)
		if err != nil || a != want[0] || n != want[1] {
			t.Errorf("%q: %d,%d,%v want %v", s, a, n, err, want)
		}
	}
	for _, s := range []string{"0", "-3", "5-2", "a-b", "x", "1-"} {
		if _, _, err := ParseChannels(s); err == nil {
			t.Errorf("%q: no error", s)
		}
	}
}

// TestHeatmap: a map whose mean is high in its top-left corner is drawn
// bright there and dark in the opposite corner, over the photo.
func TestHeatmap(t *testing.T) {
	h, w, c := 5, 7, 3
	f := graph.Feature{Name: "m", Shape: []int{2, h, w, c}, Data: make([]float32, 2*h*w*c)}
	for y := range h {
		for x := range w {
			for k := range c {
				f.Data[((h+y)*w+x)*c+k] = float32(10-x-y) + float32(k) // image 1
			}
		}
	}
	rgb := make([]float32, 30*40*3)
	for i := range rgb {
		rgb[i] = 0.5
	}
	photo, err := Photo(30, 40, rgb)
	if err != nil {
		t.Fatal(err)
	}
	hm, err := Heatmap(f, 1, photo, 0.6)
	if err != nil {
		t.Fatal(err)
	}
	if hm.Bounds() != photo.Bounds() {
		t.Fatalf("heatmap %v, photo %v", hm.Bounds(), photo.Bounds())
	}
	grey := 0.4 * 128
	hi, lo := Colour(1), Colour(0)
	if got := hm.RGBAAt(0, 0); math.Abs(float64(got.G)-(grey+0.6*float64(hi.G))) > 1.5 {
		t.Errorf("top left %v: want the colour map's high end blended", got)
	}
	if got := hm.RGBAAt(39, 29); math.Abs(float64(got.G)-(grey+0.6*float64(lo.G))) > 1.5 {
		t.Errorf("bottom right %v: want the low end blended", got)
	}
	if _, err := Heatmap(f, 2, photo, 0.5); err == nil {
		t.Error("image 2 of 2: no error")
	}
	if _, err := Heatmap(f, 0, photo, 1.5); err == nil {
		t.Error("alpha 1.5: no error")
	}
	if _, err := Photo(3, 3, rgb); err == nil {
		t.Error("a photo of the wrong size: no error")
	}
}
