package viz

import (
	"image/png"
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
