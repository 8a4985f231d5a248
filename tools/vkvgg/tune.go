package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/layers"
)

// tuneCmd times every choice of a network's kernels again on its device
// (the algorithm of each 3x3 convolution and its Winograd GEMM kernel, an
// fc layer's kernel, a general convolution's tiles or im2col) at the
// batch sizes given, with more rounds than a first run takes, saves the
// choices over the ones kept beside the pipeline cache, and prints them
// with each candidate's time.
func tuneCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tune", flag.ContinueOnError)
	var nf netFlags
	nf.register(fs)
	batches := fs.String("batches", "1,8", "comma-separated batch sizes")
	size := fs.Int("size", 224, "input size")
	rounds := fs.Int("rounds", 5, "timed rounds per candidate (a first run takes 3)")
	if err := parse(fs, args, stdout); err != nil {
		return helped(err)
	}
	batchSet := false
	fs.Visit(func(f *flag.Flag) { batchSet = batchSet || f.Name == "batch" })
	if batchSet {
		return errors.New("tune: --batch is for the commands that run images; tune takes --batches 1,8")
	}
	if *size < 1 || *rounds < 1 || *rounds > layers.MaxTuneRounds {
		return fmt.Errorf("tune: --size must be at least 1 and --rounds from 1 to %d", layers.MaxTuneRounds)
	}
	sizes, err := parseBatches(*batches, *size)
	if err != nil {
		return err
	}
	nf.retune, nf.rounds = true, *rounds
	net, err := nf.open(stderr, func(g *graph.Graph) error { return g.CheckRun(sizes[0], *size, *size, "prob") })
	if err != nil {
		return err
	}
	defer net.Close()
	dev := net.Device()
	if dev == nil {
		return errors.New("tune: the CPU reference has no kernels to choose between (tune runs on a Vulkan device)")
	}
	for _, n := range sizes {
		b := syntheticBatch(n, *size)
		start := time.Now()
		if _, err := net.Run(ctx, b, "prob"); err != nil { // the first run of a shape tunes it
			return err
		}
		fmt.Fprintf(stderr, "vkvgg: batch %d of %dx%d tuned in %.1f s\n", n, *size, *size, time.Since(start).Seconds())
	}
	tuned := net.Tuned()
	width := 0
	for _, t := range tuned {
		width = max(width, len(t.Key))
	}
	for _, t := range tuned {
		if t.Times == nil {
			return fmt.Errorf("tune: %s was not timed again", t.Key) // Retune loads no choice
		}
		names := slices.Collect(maps.Keys(t.Times))
		slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(t.Times[a], t.Times[b]), strings.Compare(a, b)) })
		var parts []string
		for _, c := range names {
			parts = append(parts, fmt.Sprintf("%s %.3f ms", c, float64(t.Times[c])/1e6))
		}
		fmt.Fprintf(stdout, "%-*s  %-10s (%s)\n", width, t.Key, t.Choice, strings.Join(parts, ", "))
	}
	where := "not saved: no pipeline cache folder (" + EnvPipelineCache + "=off, or no user cache directory)"
	if f := dev.TuningFile(); f != "" {
		where = "saved in " + f
	}
	if err := net.TuningError(); err != nil {
		return fmt.Errorf("tune: %d choices timed but not saved: %w", len(tuned), err)
	}
	fmt.Fprintf(stdout, "%d choices for %s on %s, %d rounds per candidate; %s\n", len(tuned), net.Name, dev.Info().Name, *rounds, where)
	return nil
}
