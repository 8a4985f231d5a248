package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/vkvgg/vkvgg/extract"
	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/layers"
)

// extractCmd runs a network over folders of images into numpy shards (see
// package extract).
func extractCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("extract", flag.ContinueOnError)
	var nf netFlags
	nf.register(fs)
	layerList := fs.String("layers", "", "comma-separated layer names, e.g. pool5,fc7")
	out := fs.String("out", "", "the output folder (created; a rerun of the same job resumes it)")
	size := fs.Int("size", 224, "images are centre-cropped and resized to SIZE x SIZE")
	shard := fs.Int("shard", 1024, "images per shard file")
	poolFlag := fs.String("pool", "", "avg or max: each map pooled over height and width, [N,C]")
	if err := parse(fs, args, stdout); err != nil {
		return helped(err)
	}
	pool, err := graph.ParsePooling(*poolFlag)
	if err != nil {
		return fmt.Errorf("--pool: %w", err)
	}
	if *layerList == "" || *out == "" || len(fs.Args()) == 0 {
		return errors.New("extract: --layers, --out and at least one PATH are required")
	}
	names, err := layerNames(*layerList)
	if err != nil {
		return err
	}
	if *size < 1 || *shard < 1 {
		return fmt.Errorf("extract: --size %d and --shard %d must be at least 1", *size, *shard)
	}
	if err := nf.check(); err != nil {
		return err
	}
	net, err := nf.open(stderr, func(g *graph.Graph) error { return g.CheckRun(nf.batch, *size, *size, names...) })
	if err != nil {
		return err
	}
	defer net.Close()
	device, precision := "cpu", ""
	if d := net.Device(); d != nil {
		device = d.Info().Name
	}
	if net.Precision() != layers.FP32 {
		precision = net.Precision().String()
	}
	prog := newProgress(stderr, "extract")
	rep, err := extract.Run(ctx, net, extract.Job{
		Network: net.Name, Weights: nf.weights, Device: device, Precision: precision, Layers: names, Pool: pool, Size: *size, Batch: nf.batch,
		Shard: *shard, Out: *out, Paths: fs.Args(), Command: "vkvgg extract " + strings.Join(args, " "),
		Progress: prog.update,
	})
	prog.finish()
	if err != nil {
		return err
	}
	if rep.Batch != nf.batch {
		fmt.Fprintf(stderr, "vkvgg: --batch %d does not fit the memory: ran batches of %d\n", nf.batch, rep.Batch)
	}
	if rep.Resumed > 0 {
		fmt.Fprintf(stderr, "vkvgg: %d of %d shards were already there\n", rep.Resumed, rep.Shards)
	}
	fmt.Fprintf(stdout, "extracted %d images, skipped %d (listed in %s/skipped.tsv), %d shards in %s, %.1f s\n",
		rep.Extracted, rep.Skipped, *out, rep.Shards, *out, rep.Elapsed.Seconds())
	if rep.Extracted == 0 {
		return errors.New("extract: no image could be extracted")
	}
	return nil
}

// progress shows a command's done/total, images per second and time
// left: a bar that redraws on a terminal, a plain line every few seconds
// otherwise.
type progress struct {
	w     io.Writer
	what  string // the command
	bar   *progressbar.ProgressBar
	start time.Time
	last  time.Time
	total int
}

func newProgress(w io.Writer, what string) *progress {
	p := &progress{w: w, what: what, start: time.Now()}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(-1, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(what),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("images"),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish())
	}
	return p
}

func (p *progress) update(done, total int) {
	if p.bar != nil {
		if p.total != total {
			p.bar.ChangeMax(total)
			p.total = total
		}
		p.bar.Set(done)
		return
	}
	now := time.Now()
	if now.Sub(p.last) < 5*time.Second && done < total {
		return
	}
	p.last = now
	el := now.Sub(p.start).Seconds()
	rate := float64(done) / max(el, 1e-9)
	left := "?"
	if rate > 0 {
		left = (time.Duration(float64(total-done)/rate) * time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "vkvgg: %s: %d/%d images, %.1f images/s, %s left\n", p.what, done, total, rate, left)
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
