package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/viz"
)

// mapsCmd draws a layer's feature maps for one image as a PNG grid.
func mapsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("maps", flag.ContinueOnError)
	var nf netFlags
	nf.register(fs)
	layer := fs.String("layer", "", "the layer to draw (a map: conv, pool, ...)")
	out := fs.String("out", "", "the PNG to write")
	size := fs.Int("size", 224, "centre-crop and resize the image to SIZE x SIZE; 0 keeps its own size")
	channels := fs.Int("channels", 64, "draw the first CHANNELS channels (0: all)")
	scale := fs.Int("scale", 0, "pixels per map pixel (default: tiles about 64 pixels wide)")
	if err := parse(fs, args, stdout); err != nil {
		return helped(err)
	}
	if *layer == "" || *out == "" || len(fs.Args()) != 1 {
		return errors.New("maps: --layer, --out and one IMAGE are required")
	}
	if *size < 0 {
		return fmt.Errorf("maps: --size %d", *size)
	}
	imgs, err := loadImages(fs.Args(), *size)
	if err != nil {
		return err
	}
	b, err := batchOf(imgs)
	if err != nil {
		return err
	}
	net, err := nf.open(stderr, func(g *graph.Graph) error { return g.CheckRun(1, b.H, b.W, *layer) })
	if err != nil {
		return err
	}
	defer net.Close()
	res, err := net.Run(ctx, b, *layer)
	if err != nil {
		return err
	}
	f, _ := res.Feature(*layer)
	pic, err := viz.Grid(f, viz.Options{Channels: *channels, Scale: *scale})
	if err != nil {
		return err
	}
	if err := viz.WritePNG(*out, pic); err != nil {
		return err
	}
	drawn := f.Shape[len(f.Shape)-1]
	if *channels > 0 {
		drawn = min(drawn, *channels)
	}
	fmt.Fprintf(stdout, "%s %v: %d channels drawn into %s (%dx%d)\n", *layer, f.Shape, drawn, *out, pic.Bounds().Dx(), pic.Bounds().Dy())
	return nil
}
