// Command vkvgg-beam runs `vkvgg extract` as an Apache Beam pipeline:
//
//	go run ./cmd/vkvgg-beam --weights W --layers pool5,fc7 --out DIR PATH... [--pool avg] [--size 224] [--batch 8] [--shard 1024] [--device auto]
//
// with Beam's flags choosing the runner: the local Prism runner by default,
// or --runner=dataflow|flink|spark with their usual options. The output
// is what `vkvgg extract` writes for the same job.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"

	vkvggbeam "github.com/vkvgg/vkvgg/beam"
	"github.com/vkvgg/vkvgg/extract"
	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/layers"
)

var (
	weights = flag.String("weights", "", "weight file (every worker reads it at this path) or random:NAME")
	names   = flag.String("layers", "", "comma-separated layer names")
	out     = flag.String("out", "", "the output folder, on storage every worker sees")
	pool    = flag.String("pool", "", "avg or max: maps pooled over height and width")
	size    = flag.Int("size", 224, "input size")
	batch   = flag.Int("batch", 8, "images per run")
	shard   = flag.Int("shard", 1024, "images per shard")
	device  = flag.String("device", "", "the workers' device: auto, cpu, an index or a name (default $VKVGG_DEVICE, else auto)")
)

func main() {
	flag.Parse()
	beam.Init()
	p, err := graph.ParsePooling(*pool)
	if err != nil {
		log.Fatal(err)
	}
	if *weights == "" || *names == "" || *out == "" || flag.NArg() == 0 {
		log.Fatal("vkvgg-beam: --weights, --layers, --out and at least one PATH are required")
	}
	// The library reads no environment: the workers' device, kernels and
	// validation come from this process's, as for vkvgg.
	kernels, err := layers.KernelOptionsFromEnv(os.Getenv)
	if err != nil {
		log.Fatal(err)
	}
	dev := *device
	if dev == "" {
		dev = os.Getenv(gpu.EnvDevice)
	}
	pipe, s := beam.NewPipelineWithRoot()
	plan, err := vkvggbeam.Build(s, vkvggbeam.Options{Device: dev, Kernels: kernels, Validation: os.Getenv(gpu.EnvValidation) == "1", Job: extract.Job{
		Weights: *weights, Layers: strings.Split(*names, ","), Pool: p, Size: *size, Batch: *batch, Shard: *shard,
		Out: *out, Paths: flag.Args(), Command: "vkvgg-beam " + strings.Join(flag.Args(), " "),
	}})
	if err != nil {
		log.Fatal(err)
	}
	if err := beamx.Run(context.Background(), pipe); err != nil {
		log.Fatal(err)
	}
	m, err := plan.Finish()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("extracted %d images, skipped %d, %d shards in %s\n", m.Extracted, m.Skipped, m.Shards, *out)
}
