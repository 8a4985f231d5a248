package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/heads"
	"github.com/vkvgg/vkvgg/images"
	"github.com/vkvgg/vkvgg/models"
	"github.com/vkvgg/vkvgg/viz"
)

// segPair is an image and its mask.
type segPair struct{ image, mask string }

// segPairs lists DIR/images/* with their DIR/masks/<base>.png; a missing
// mask is an error that names it.
func segPairs(dir string) ([]segPair, error) {
	entries, err := os.ReadDir(filepath.Join(dir, "images"))
	if err != nil {
		return nil, fmt.Errorf("train: %s holds no images/ folder (and masks/ beside it): %w", dir, err)
	}
	var out []segPair
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		base := strings.TrimSuffix(e.Name(), filepath.Ext(e.Name()))
		m := filepath.Join(dir, "masks", base+".png")
		if _, err := os.Stat(m); err != nil {
			return nil, fmt.Errorf("train: no mask %s for %s", m, e.Name())
		}
		out = append(out, segPair{filepath.Join(dir, "images", e.Name()), m})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("train: no image in %s/images", dir)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].image < out[b].image })
	return out, nil
}

// loadMask reads a PNG mask of class ids (palette indices or grey
// levels), centre-cropped like images.LoadVGG and resized to size x size
// by nearest neighbour.
func loadMask(path string, size int) ([]uint8, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		return nil, fmt.Errorf("mask %s: %w", path, err)
	}
	if int64(cfg.Width)*int64(cfg.Height) > images.MaxPixels {
		return nil, fmt.Errorf("mask %s: %dx%d is too large", path, cfg.Width, cfg.Height)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	img, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("mask %s: %w", path, err)
	}
	b := img.Bounds()
	var at func(x, y int) uint8
	switch m := img.(type) {
	case *image.Paletted:
		at = func(x, y int) uint8 { return m.ColorIndexAt(x, y) }
	case *image.Gray:
		at = func(x, y int) uint8 { return m.GrayAt(x, y).Y }
	default:
		return nil, fmt.Errorf("mask %s: a %T; masks are palette or 8-bit grey PNGs whose values are class ids", path, img)
	}
	s := min(b.Dx(), b.Dy())
	y0, x0 := b.Min.Y+(b.Dy()-s)/2, b.Min.X+(b.Dx()-s)/2
	out := make([]uint8, size*size)
	for Y := range size {
		y := y0 + min(s-1, (2*Y+1)*s/(2*size))
		for X := range size {
			x := x0 + min(s-1, (2*X+1)*s/(2*size))
			out[Y*size+X] = at(x, y)
		}
	}
	return out, nil
}

// trainFCN trains a segmentation head for `vkvgg train --head fcn`.
func trainFCN(nf *netFlags, data, layer, classesFile string, size int, val float64, seed uint64, cfg heads.Config, out, plotPath string, stdout, stderr io.Writer) error {
	if nf.weights == "" || data == "" {
		return errors.New("train: --head fcn needs --weights and --data DIR (images/ and masks/)")
	}
	if layer == "" {
		layer = "pool5"
	}
	pairs, err := segPairs(data)
	if err != nil {
		return err
	}
	var classes []string
	if classesFile != "" {
		b, err := os.ReadFile(classesFile)
		if err != nil {
			return fmt.Errorf("train: %w", err)
		}
		for _, c := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
			if c = strings.TrimSpace(c); c != "" {
				classes = append(classes, c)
			}
		}
	}
	masks := make([]uint8, 0, len(pairs)*size*size)
	maxID := 0
	for _, p := range pairs {
		m, err := loadMask(p.mask, size)
		if err != nil {
			return fmt.Errorf("train: %w", err)
		}
		for _, v := range m {
			if v != heads.IgnoreLabel {
				if classes != nil && int(v) >= len(classes) {
					return fmt.Errorf("train: mask %s holds class %d, beyond the %d classes of %s", p.mask, v, len(classes), classesFile)
				}
				maxID = max(maxID, int(v))
			}
		}
		masks = append(masks, m...)
	}
	if classes == nil {
		for i := 0; i <= maxID; i++ {
			classes = append(classes, fmt.Sprintf("class%d", i))
		}
	}
	if len(classes) < 2 {
		return errors.New("train: the masks hold one class: a segmentation head needs at least 2")
	}
	net, err := nf.open(stderr, func(g *graph.Graph) error { return g.CheckRun(nf.batch, size, size, layer) })
	if err != nil {
		return err
	}
	defer net.Close()
	var feats []float32
	var shape []int
	for i := 0; i < len(pairs); i += nf.batch {
		var imgs []images.RGB
		for _, p := range pairs[i:min(len(pairs), i+nf.batch)] {
			img, err := images.LoadVGG(p.image, size)
			if err != nil {
				return fmt.Errorf("train: %w", err)
			}
			imgs = append(imgs, img)
		}
		b, err := batchOf(imgs)
		if err != nil {
			return err
		}
		res, err := net.Run(context.Background(), b, layer)
		if err != nil {
			return err
		}
		f, _ := res.Feature(layer)
		if len(f.Shape) != 4 {
			return fmt.Errorf("train: %s is a vector %v: an fcn head needs a map", layer, f.Shape)
		}
		feats, shape = append(feats, f.Data...), f.Shape
	}
	d := &heads.SegData{X: feats, N: len(pairs), H: shape[1], W: shape[2], C: shape[3], Masks: masks, S: size, K: len(classes), Labels: classes}
	// A random split by image.
	labels := make([]int32, len(pairs))
	train, valid := heads.Split(labels, 1, val, seed)
	fmt.Fprintf(stderr, "vkvgg: %d images, %s maps %dx%dx%d, %d classes: %d to train, %d to validate\n", d.N, layer, d.H, d.W, d.C, d.K, len(train), len(valid))
	res, err := heads.TrainFCN(d, train, valid, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "kept epoch %d: validation mean IoU %.4f, pixel accuracy %.4f (all %s: mean IoU %.4f)\n",
		res.Best, res.MeanIoU, res.PixAcc, classes[0], res.BaselineMeanIoU)
	for q, v := range res.IoU {
		fmt.Fprintf(stdout, "  IoU %-20s %.4f\n", classes[q], v)
	}
	h := res.Head
	h.Network, h.Layer, h.Pooling = net.Name, layer, "none"
	if err := h.Save(out); err != nil {
		return err
	}
	if plotPath != "" {
		if err := heads.PlotCurves(res.History, plotPath); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "wrote %s\n", out)
	return nil
}

// palette colours class ids as PASCAL VOC does (bits of the id spread
// over the three channels).
func palette() color.Palette {
	p := make(color.Palette, 256)
	for i := range 256 {
		var r, g, b uint8
		c := i
		for j := 0; j < 8; j++ {
			r |= uint8((c>>0)&1) << (7 - j)
			g |= uint8((c>>1)&1) << (7 - j)
			b |= uint8((c>>2)&1) << (7 - j)
			c >>= 3
		}
		p[i] = color.RGBA{r, g, b, 255}
	}
	return p
}

// predictSeg runs a segmentation head on each image at its own size and
// writes DIR/<base>.png masks (palette PNG) and, with overlay, the mask
// blended over the photo.
func predictSeg(ctx context.Context, net *models.Net, h *heads.Head, files []string, dir string, overlay bool, stdout, stderr io.Writer) error {
	if dir == "" {
		return errors.New("predict: a segmentation head needs --masks DIR")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	k := len(h.Classes)
	pal := palette()
	written := 0
	for _, p := range files {
		img, err := images.Load(p)
		if err != nil {
			fmt.Fprintf(stderr, "vkvgg: skipped %s: %v\n", p, err)
			continue
		}
		res, err := net.Run(ctx, graph.Batch{N: 1, H: img.H, W: img.W, Data: img.Pix}, "head.prob")
		if err != nil {
			return err
		}
		prob, _ := res.Feature("head.prob")
		m := image.NewPaletted(image.Rect(0, 0, img.W, img.H), pal)
		for i := range img.H * img.W {
			row := prob.Data[i*k : (i+1)*k]
			arg := 0
			for q, v := range row {
				if v > row[arg] {
					arg = q
				}
			}
			m.Pix[i] = uint8(arg)
		}
		base := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		if err := viz.WritePNG(filepath.Join(dir, base+".png"), m); err != nil {
			return err
		}
		if overlay {
			o := image.NewRGBA(m.Rect)
			for i := range img.H * img.W {
				c := pal[m.Pix[i]].(color.RGBA)
				for j, v := range []uint8{c.R, c.G, c.B} {
					photo := float64(img.Pix[i*3+j]) * 255
					if m.Pix[i] == 0 {
						o.Pix[i*4+j] = uint8(photo)
					} else {
						o.Pix[i*4+j] = uint8(0.5*photo + 0.5*float64(v))
					}
				}
				o.Pix[i*4+3] = 255
			}
			if err := viz.WritePNG(filepath.Join(dir, base+"_overlay.png"), o); err != nil {
				return err
			}
		}
		written++
	}
	fmt.Fprintf(stdout, "wrote %d masks to %s\n", written, dir)
	if written == 0 {
		return errors.New("predict: no image could be read")
	}
	return nil
}
