//go:build cgo

package viewer

import (
	"image"
	"testing"

	"github.com/go-gl/glfw/v3.3/glfw"

	"github.com/vkvgg/vkvgg/graph"
)

// TestLayout: the photo and the tiles stay inside the canvas, apart, and
// keep the map's aspect.
func TestLayout(t *testing.T) {
	for _, c := range []struct{ w, h, mh, mw, n int }{{1024, 640, 224, 224, 64}, {1024, 640, 14, 14, 512 % 64}, {800, 600, 7, 13, 1}, {640, 480, 112, 112, 37}, {300, 200, 3, 3, 64}} {
		photo, grid, tw, th, cols := Layout(c.w, c.h, c.mh, c.mw, max(c.n, 1))
		n := max(c.n, 1)
		rows := (n + cols - 1) / cols
		all := image.Rect(grid.X, grid.Y, grid.X+cols*(tw+1)-1, grid.Y+rows*(th+1)-1)
		canvas := image.Rect(0, 0, c.w, c.h)
		if !all.In(canvas) || !photo.In(canvas) || all.Overlaps(photo) {
			t.Errorf("%+v: grid %v, photo %v", c, all, photo)
		}
		if a, b := float64(tw)/float64(th), float64(c.mw)/float64(c.mh); a/b > 1.15 || b/a > 1.15 {
			t.Errorf("%+v: tiles %dx%d for maps %dx%d", c, tw, th, c.mw, c.mh)
		}
	}
}

// TestKeysAndClicks drives the viewer's state as the window's callbacks
// do: layers, pages and images wrap around; a click on a tile shows its
// channel large, another click or Escape goes back; Escape then quits.
func TestKeysAndClicks(t *testing.T) {
	v := &view{o: Options{Images: []string{"a", "b", "c"}}, maps: []graph.LayerInfo{
		{Name: "conv1", Shape: []int{1, 8, 8, 130}}, {Name: "conv2", Shape: []int{1, 4, 4, 16}},
	}}
	st := &state{zoom: -1}
	v.key(st, glfw.KeyPageDown)
	v.key(st, glfw.KeyPageDown)
	if st.page != 2 {
		t.Errorf("two pages on: page %d", st.page)
	}
	v.key(st, glfw.KeyPageDown) // 130 channels: 3 pages
	if st.page != 0 {
		t.Errorf("past the last page: page %d", st.page)
	}
	v.key(st, glfw.KeyLeft)
	if st.layer != 1 || !st.dirty || st.page != 0 {
		t.Errorf("previous layer from the first: %+v", st)
	}
	v.key(st, glfw.KeyUp)
	if st.image != 2 {
		t.Errorf("previous image from the first: %d", st.image)
	}
	// A grid of 16 tiles of 10x10 in 4 columns from (100, 50).
	v.first, v.count, v.grid, v.tileW, v.tileH, v.cols = 0, 16, image.Pt(100, 50), 10, 10, 4
	v.click(st, 100+2*11+3, 50+1*11+9) // column 2, row 1
	if st.zoom != 6 {
		t.Errorf("a click on tile 6: zoom %d", st.zoom)
	}
	v.click(st, 0, 0)
	if st.zoom != -1 {
		t.Errorf("a second click: zoom %d", st.zoom)
	}
	v.click(st, 100+10, 50) // the gap
	if st.zoom != -1 {
		t.Errorf("a click on a gap: zoom %d", st.zoom)
	}
	v.click(st, 100+3*11+2, 50+3*11+2)
	v.key(st, glfw.KeyEscape)
	if st.zoom != -1 || st.quit {
		t.Errorf("Escape from a large channel: %+v", st)
	}
	v.key(st, glfw.KeyS)
	v.key(st, glfw.KeyEscape)
	if !st.save || !st.quit {
		t.Errorf("s then Escape: %+v", st)
	}
}
