package viz

import (
	"image"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/internal/testdev"
)

// TestDrawer draws a photo and a grid of channels 3..9 of image 1 of a
// random map on the GPU and compares the canvas with the photo and with
// Grid's tiles drawn on the CPU (the colours within one level: the GPU
// interpolates in float32), in both byte orders.
func TestDrawer(t *testing.T) {
	dev := testdev.Open(t)
	rng := rand.New(rand.NewPCG(3, 9))
	n, h, w, c := 2, 9, 13, 11
	data := make([]float32, n*h*w*c)
	for i := range data {
		data[i] = float32(rng.NormFloat64()*3 + 1)
	}
	mb, err := dev.NewBuffer(int64(len(data)) * 4)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	mb.Upload(0, data)
	// The same map in fp16, as an FP16 Net leaves it.
	var mbh *gpu.Buffer
	dataH := make([]float32, len(data))
	if dev.Half() {
		if mbh, err = dev.NewBuffer(int64(len(data)+1) / 2 * 4); err != nil {
			t.Fatal(err)
		}
		defer mbh.Close()
		mbh.UploadHalf(0, data)
		for i, v := range data {
			dataH[i] = gpu.Float(gpu.Half(v))
		}
	}
	pw, ph := 17, 10
	words := make([]float32, pw*ph)
	for i := range words {
		words[i] = math.Float32frombits(rng.Uint32() | 0xff000000)
	}
	pb, err := dev.NewBuffer(int64(len(words)) * 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pb.Close()
	pb.Upload(0, words)
	d, err := NewDrawer(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	const scale, cols = 3, 3
	first, count := 3, 7
	cw, ch := 200, 150
	cb, err := dev.NewBuffer(int64(cw*ch) * 4)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	feat := graph.Feature{Name: "m", Shape: []int{n, h, w, c}, Data: data}
	wantF, err := Grid(feat, Options{Image: 1, First: first, Count: count, Cols: cols, Scale: scale})
	if err != nil {
		t.Fatal(err)
	}
	wantH, err := Grid(graph.Feature{Name: "m", Shape: feat.Shape, Data: dataH}, Options{Image: 1, First: first, Count: count, Cols: cols, Scale: scale})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := NewLayout(h, w, count, cols, scale, false)
	photo := image.Rect(2, 5, 2+2*pw, 5+2*ph)
	grid := image.Pt(60, 40)
	for _, variant := range []struct{ bgra, half bool }{{false, false}, {true, false}, {false, true}} {
		bgra, half := variant.bgra, variant.half
		want, m, es := wantF, mb, 4
		if half {
			if mbh == nil {
				continue
			}
			want, m, es = wantH, mbh, 2
		}
		seq, err := dev.NewSequence(gpu.SequenceOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s := Scene{Photo: pb, PhotoW: pw, PhotoH: ph, PhotoRect: photo,
			Map: graph.DeviceFeature{Name: "m", Shape: feat.Shape, Buf: m, Bytes: int64(len(data) * es), Half: half}, Image: 1,
			First: first, Count: count, Grid: grid, TileW: l.TileW, TileH: l.TileH, Cols: cols, Highlight: -1}
		if err := d.Draw(seq, Canvas{Buf: cb, W: cw, H: ch, BGRA: bgra}, s); err != nil {
			t.Fatal(err)
		}
		if err := seq.Submit(); err != nil {
			t.Fatal(err)
		}
		seq.Close()
		raw := make([]float32, cw*ch)
		cb.Download(0, raw)
		at := func(x, y int) [3]int {
			v := math.Float32bits(raw[y*cw+x])
			r, g, b := int(v&255), int(v>>8&255), int(v>>16&255)
			if bgra {
				r, b = b, r
			}
			if v>>24 != 255 {
				t.Fatalf("alpha %d at (%d,%d)", v>>24, x, y)
			}
			return [3]int{r, g, b}
		}
		for y := range l.Height() {
			for x := range l.Width() {
				wc := want.RGBAAt(x, y)
				if l.At(x, y) < 0 {
					continue // gaps: white on the CPU, the background on the GPU
				}
				got := at(grid.X+x, grid.Y+y)
				for j, wv := range [3]uint8{wc.R, wc.G, wc.B} {
					if d := got[j] - int(wv); d < -1 || d > 1 {
						t.Fatalf("bgra %v, half %v: tile pixel (%d,%d): %v, want %v", bgra, half, x, y, got, wc)
					}
				}
			}
		}
		for y := photo.Min.Y; y < photo.Max.Y; y++ {
			for x := photo.Min.X; x < photo.Max.X; x++ {
				v := math.Float32bits(words[(y-photo.Min.Y)/2*pw+(x-photo.Min.X)/2])
				if got := at(x, y); got != [3]int{int(v & 255), int(v >> 8 & 255), int(v >> 16 & 255)} {
					t.Fatalf("photo pixel (%d,%d): %v, want %#x", x, y, got, v)
				}
			}
		}
		if got := at(cw-1, 0); got != [3]int{30, 30, 30} {
			t.Errorf("background %v", got)
		}
	}
	r, err := d.Ranges()
	if err != nil || len(r) != count {
		t.Fatalf("ranges %v %v", r, err)
	}
	if mbh != nil {
		data = dataH // the last Draw's map
	}
	for i, mm := range r {
		lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
		for p := range h * w {
			v := data[(h*w+p)*c+first+i]
			lo, hi = min(lo, v), max(hi, v)
		}
		if mm != [2]float32{lo, hi} {
			t.Errorf("channel %d: range %v, want [%v %v]", first+i, mm, lo, hi)
		}
	}
	seq, _ := dev.NewSequence(gpu.SequenceOptions{})
	defer seq.Close()
	bad := Scene{Map: graph.DeviceFeature{Name: "v", Shape: []int{1, 10}, Buf: mb}, TileW: 1, TileH: 1, Cols: 1}
	if err := d.Draw(seq, Canvas{Buf: cb, W: cw, H: ch}, bad); err == nil {
		t.Error("a vector: no error")
	}
	if err := d.Draw(seq, Canvas{Buf: cb, W: cw, H: ch + 1}, Scene{Map: graph.DeviceFeature{Name: "m", Shape: feat.Shape, Buf: mb}, TileW: 1, TileH: 1, Cols: 1}); err == nil {
		t.Error("a canvas larger than its buffer: no error")
	}
}
