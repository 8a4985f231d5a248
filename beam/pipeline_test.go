package vkvggbeam

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/vkvgg/vkvgg/extract"
	"github.com/vkvgg/vkvgg/internal/testdev"
	"github.com/vkvgg/vkvgg/layers"
	"github.com/vkvgg/vkvgg/models"
)

// TestMain initialises Beam (the test binary is also the pipeline's
// worker).
func TestMain(m *testing.M) { ptest.MainWithDefault(m, "prism") }

const weights = "../testdata/tv/resnet18.pth" // a thin ResNet-18: fast on the CPU reference

// TestPrismEqualsExtract runs the pipeline on Beam's Prism runner and
// expects, file for file and byte for byte, what extract.Run writes for
// the same job on the CPU reference; a second run finds every shard done.
func TestPrismEqualsExtract(t *testing.T) {
	data := testdev.ImageFolder(t, "..", 23)
	job := extract.Job{Weights: weights, Layers: []string{"layer2", "avgpool", "prob"}, Size: 48, Batch: 3, Shard: 5, Paths: []string{data}}

	ref := job
	ref.Out = filepath.Join(t.TempDir(), "ref")
	net, err := models.Load(weights, models.Options{Device: models.DeviceCPU})
	if err != nil {
		t.Fatal(err)
	}
	ref.Network = net.Name
	want, err := extract.Run(context.Background(), net, ref)
	net.Close()
	if err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(t.TempDir(), "beam")
	job.Out = out
	// Kernel options no kit knows are refused before the pipeline runs;
	// known ones travel to the workers (which, on the CPU, do not use
	// them).
	_, s0 := beam.NewPipelineWithRoot()
	if _, err := Build(s0, Options{Job: job, Device: models.DeviceCPU, Kernels: layers.KernelOptions{Family: "fpga"}}); !errors.Is(err, layers.ErrOptions) {
		t.Errorf("family fpga: got %v, want layers.ErrOptions", err)
	}
	p, s := beam.NewPipelineWithRoot()
	plan, err := Build(s, Options{Job: job, Device: models.DeviceCPU, Kernels: layers.KernelOptions{Family: "gpu", Winograd: "off"}, Validation: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prism.Execute(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	got, err := plan.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if got.Extracted != want.Extracted || got.Skipped != want.Skipped || got.Shards != want.Shards || got.Extracted != 23 || got.Skipped != 1 {
		t.Errorf("beam: %+v; extract: %+v", got, want)
	}
	files, _ := filepath.Glob(filepath.Join(ref.Out, "*"))
	if len(files) != want.Shards+3 {
		t.Fatalf("extract wrote %v", files)
	}
	for _, f := range files {
		name := filepath.Base(f)
		a, _ := os.ReadFile(f)
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if name != "manifest.json" && !bytes.Equal(a, b) {
			t.Errorf("%s differs between the pipeline and extract", name)
		}
	}
	// Everything is on disk: a second pipeline has nothing to do.
	p2, s2 := beam.NewPipelineWithRoot()
	plan2, err := Build(s2, Options{Job: job, Device: models.DeviceCPU})
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range plan2.Shards {
		if !sh.Done {
			t.Errorf("shard %d not seen as done", sh.Index)
		}
	}
	_ = p2
}
