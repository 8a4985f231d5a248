package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/viz"
)

// gridCmd draws a layer's feature maps for one image as a PNG grid, and
// with --heatmap the layer's mean activation over the photo.
func gridCmd(ctx context.Context, name string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var nf netFlags
	nf.register(fs)
	layer := fs.String("layer", "", "the layer to draw (a map: conv, pool, ...)")
	out := fs.String("out", "", "the PNG grid to write")
	heat := fs.String("heatmap", "", "also write the layer's mean activation, upsampled and blended over the photo, to this PNG")
	alpha := fs.Float64("alpha", 0.6, "the heatmap's weight over the photo, in [0,1]")
	size := fs.Int("size", 224, "centre-crop and resize the image to SIZE x SIZE; 0 keeps its own size")
	channels := fs.String("channels", "64", "the channels drawn: N (the first N), A-B (A to B), or all")
	cols := fs.Int("cols", 0, "tiles per row (default: about square)")
	scale := fs.Int("scale", 0, "pixels per map pixel (default: tiles about 64 pixels wide)")
	labels := fs.Bool("labels", true, "write the layer, its shape and the channel numbers on the grid")
	if err := parse(fs, args, stdout); err != nil {
		return helped(err)
	}
	if *layer == "" || (*out == "" && *heat == "") || len(fs.Args()) != 1 {
		return fmt.Errorf("%s: --layer, --out or --heatmap, and one IMAGE are required", name)
	}
	if *size < 0 {
		return fmt.Errorf("%s: --size %d", name, *size)
	}
	if !(*alpha >= 0 && *alpha <= 1) {
		return fmt.Errorf("%s: --alpha %v is not in [0,1]", name, *alpha)
	}
	var first, count int
	if *channels != "all" {
		var err error
		if first, count, err = viz.ParseChannels(*channels); err != nil {
			return fmt.Errorf("%s: --channels: %w", name, err)
		}
	}
	if err := checkOut(name, "--out", *out); err != nil {
		return err
	}
	if err := checkOut(name, "--heatmap", *heat); err != nil {
		return err
	}
	imgs, err := loadImages(fs.Args(), *size)
	if err != nil {
		return err
	}
	b, err := batchOf(imgs)
	if err != nil {
		return err
	}
	net, err := nf.open(stderr, func(g *graph.Graph) error {
		if err := g.CheckRun(1, b.H, b.W, *layer); err != nil {
			return err
		}
		return mapLayer(g, b.H, b.W, *layer, first)
	})
	if err != nil {
		return err
	}
	defer net.Close()
	res, err := net.Run(ctx, b, *layer)
	if err != nil {
		return err
	}
	f, _ := res.Feature(*layer)
	if *out != "" {
		o := viz.Options{First: first, Count: count, Cols: *cols, Scale: *scale, Labels: *labels}
		pic, err := viz.Grid(f, o)
		if err != nil {
			return err
		}
		if err := viz.WritePNG(*out, pic); err != nil {
			return err
		}
		a, n, _ := o.Channels(f.Shape[3])
		fmt.Fprintf(stdout, "%s %v: channels %d-%d drawn into %s (%dx%d)\n", *layer, f.Shape, a, a+n-1, *out, pic.Bounds().Dx(), pic.Bounds().Dy())
	}
	if *heat != "" {
		photo, err := viz.Photo(b.H, b.W, b.Data)
		if err != nil {
			return err
		}
		pic, err := viz.Heatmap(f, 0, photo, *alpha)
		if err != nil {
			return err
		}
		if err := viz.WritePNG(*heat, pic); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s %v: mean activation over %s written to %s (%dx%d)\n", *layer, f.Shape, fs.Arg(0), *heat, b.W, b.H)
	}
	return nil
}

// mapLayer checks that layer is a map [N,H,W,C] for an h x w input has channel first.
func mapLayer(g *graph.Graph, h, w int, layer string, first int) error {
	ls, _ := g.Layers(1, h, w) // layers past the size's reach are left out: CheckRun covers layer
	for _, l := range ls {
		if l.Name == layer && len(l.Shape) != 4 {
			return fmt.Errorf("%s has shape %v: only maps [N,H,W,C] are drawn", layer, l.Shape)
		}
		if l.Name == layer && first >= l.Shape[3] {
			return fmt.Errorf("--channels from %d: %s has %d channels", first, layer, l.Shape[3])
		}
	}
	return nil
}
