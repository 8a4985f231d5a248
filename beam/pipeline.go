// Package vkvggbeam runs `vkvgg extract` as an Apache Beam pipeline, for
// datasets larger than one machine. It is its own Go module, so that the
// engine does not carry Beam's dependencies.
//
// The driver prepares the job as `vkvgg extract` does (package extract:
// candidates listed and split into shards, the output folder claimed with
// a manifest), the shards become a PCollection, and a DoFn writes each
// shard: it opens the engine once per worker in Setup, runs the network on
// the shard's images in batches, and closes the engine in Teardown. The
// driver then writes skipped.tsv and the final manifest. The shards are
// the ones `vkvgg extract` writes for the same job, bit for bit on the CPU
// reference, and a rerun skips shards already on disk.
//
// Workers write to the output folder, so on a cluster it must be storage
// every worker and the driver see (a shared or fused file system); each
// worker needs the weight file at the same path, and for GPUs the Vulkan
// loader (libvulkan1) and a driver (see the README).
package vkvggbeam

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/vkvgg/vkvgg/extract"
	"github.com/vkvgg/vkvgg/layers"
	"github.com/vkvgg/vkvgg/models"
)

func init() {
	register.DoFn3x1[context.Context, extract.ShardTask, func(int), error](&shardFn{})
	register.Emitter1[int]()
	beam.RegisterType(reflect.TypeOf((*extract.ShardTask)(nil)).Elem())
}

// Options configure a pipeline.
type Options struct {
	Job    extract.Job // Progress is not used
	Device string      // the engine's device on the workers ("auto" by default)
	// Kernels and Validation are the workers' models.Options: the
	// library reads no environment, so vkvgg-beam reads VKVGG_KERNELS,
	// VKVGG_WINOGRAD, VKVGG_SUBGROUPS and VKVGG_VALIDATION where it
	// starts and sends them.
	Kernels    layers.KernelOptions
	Validation bool
}

// Build prepares the job on the driver and adds the extraction to the
// pipeline; after the pipeline has run, Finish writes the manifest and
// skipped.tsv. The driver reads the weights once to check names and sizes
// (on the CPU; no device is needed there).
func Build(s beam.Scope, opts Options) (*extract.Plan, error) {
	if err := opts.Kernels.Validate(); err != nil {
		return nil, fmt.Errorf("vkvggbeam: %w", err)
	}
	net, err := models.Load(opts.Job.Weights, models.Options{Device: models.DeviceCPU})
	if err != nil {
		return nil, err
	}
	opts.Job.Network = net.Name
	if opts.Job.Device == "" {
		opts.Job.Device = opts.Device // the workers' selector, recorded
	}
	g := net.Graph()
	net.Close()
	opts.Job.Progress = nil
	plan, err := extract.Prepare(g, opts.Job)
	if err != nil {
		return nil, err
	}
	var todo []extract.ShardTask
	for _, t := range plan.Shards {
		if !t.Done {
			todo = append(todo, t)
		}
	}
	if len(todo) == 0 {
		return plan, nil
	}
	job, err := json.Marshal(plan.Job)
	if err != nil {
		return nil, err
	}
	shapes, err := json.Marshal(plan.Shapes())
	if err != nil {
		return nil, err
	}
	dev := opts.Device
	if dev == "" {
		dev = models.DeviceAuto
	}
	s = s.Scope("vkvgg.extract")
	tasks := beam.CreateList(s, todo)
	// A reshuffle spreads the shards over the workers.
	tasks = beam.Reshuffle(s, tasks)
	kernels, err := json.Marshal(opts.Kernels)
	if err != nil {
		return nil, err
	}
	beam.ParDo(s, &shardFn{Job: string(job), Shapes: string(shapes), Device: dev, Kernels: string(kernels), Validation: opts.Validation}, tasks)
	return plan, nil
}

// shardFn writes shards. Its exported fields are what Beam sends to the
// workers.
type shardFn struct {
	Job        string // extract.Job as JSON
	Shapes     string // the layers' shapes as JSON
	Device     string
	Kernels    string // layers.KernelOptions as JSON
	Validation bool

	job    extract.Job
	shapes map[string][]int
	net    *models.Net
}

// Setup opens the engine once per worker.
func (f *shardFn) Setup() error {
	if err := json.Unmarshal([]byte(f.Job), &f.job); err != nil {
		return fmt.Errorf("vkvggbeam: job: %w", err)
	}
	if err := json.Unmarshal([]byte(f.Shapes), &f.shapes); err != nil {
		return fmt.Errorf("vkvggbeam: shapes: %w", err)
	}
	var kernels layers.KernelOptions
	if err := json.Unmarshal([]byte(f.Kernels), &kernels); err != nil {
		return fmt.Errorf("vkvggbeam: kernel options: %w", err)
	}
	net, err := models.Load(f.job.Weights, models.Options{Device: f.Device, Kernels: kernels, Validation: f.Validation})
	if err != nil {
		return fmt.Errorf("vkvggbeam: opening the engine: %w", err)
	}
	f.net = net
	return nil
}

// ProcessElement writes one shard and emits its index.
func (f *shardFn) ProcessElement(ctx context.Context, t extract.ShardTask, emit func(int)) error {
	if err := extract.WriteShardTask(ctx, f.net, f.job, f.shapes, t, nil); err != nil {
		return fmt.Errorf("vkvggbeam: shard %d: %w", t.Index, err)
	}
	emit(t.Index)
	return nil
}

// Teardown closes the engine.
func (f *shardFn) Teardown() error { return f.net.Close() }
