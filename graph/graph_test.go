package graph_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/vkvgg/vkvgg/layers"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/internal/testdev"
	"github.com/vkvgg/vkvgg/layers/layertest"
	"github.com/vkvgg/vkvgg/torchvision"
)

func randomBatch(seed uint64, n, h, w int) graph.Batch {
	rng := rand.New(rand.NewPCG(seed, seed))
	b := graph.Batch{N: n, H: h, W: w, Data: make([]float32, n*h*w*3)}
	for i := range b.Data {
		b.Data[i] = float32(rng.Float64())
	}
	return b
}

func model(t testing.TB, name string) *torchvision.Model {
	t.Helper()
	sd, err := torchvision.Random(name, 7)
	if err != nil {
		t.Fatal(err)
	}
	m, err := torchvision.Build(sd)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func onDevice(t *testing.T, g *graph.Graph) *graph.Net {
	t.Helper()
	n, err := graph.NewOnOptions(testdev.Open(t), g, graph.Options{Kernels: testdev.Kernels(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	})
	return n
}

// netOn opens g on the test device ("device") or the CPU reference.
func netOn(t *testing.T, where string, g *graph.Graph) *graph.Net {
	t.Helper()
	if where == "device" {
		return onDevice(t, g)
	}
	n, err := graph.NewCPU(g)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestResNet50Memory: the liveness planner's activation memory for
// ResNet-50 at 224x224, batch 8, against the sum of all its tensors.
func TestResNet50Memory(t *testing.T) {
	m := model(t, "resnet50")
	n, err := graph.NewCPU(m.Graph)
	if err != nil {
		t.Fatal(err)
	}
	info, err := n.Plan(graph.Batch{N: 8, H: 224, W: 224}, "prob")
	if err != nil {
		t.Fatal(err)
	}
	ratio := float64(info.ActivationBytes) / float64(info.TensorBytes)
	t.Logf("resnet50 224x224 batch 8: %d MiB of activations in %d buffers for %d MiB of tensors (%.1f%%), %d ops in %d submissions",
		info.ActivationBytes>>20, info.Buffers, info.TensorBytes>>20, 100*ratio, info.Nodes, info.Segments)
	if ratio >= 0.4 {
		t.Errorf("planned %.1f%% of the sum of tensors, want below 40%%", 100*ratio)
	}
}

// TestKeptNeverOverwritten asks for many tensors at once, including ones
// whose memory a liveness planner would reuse, and compares each with a
// run that asks for it alone, and with the CPU reference.
func TestKeptNeverOverwritten(t *testing.T) {
	m := model(t, "resnet18")
	dev := onDevice(t, m.Graph)
	cpu, _ := graph.NewCPU(m.Graph)
	names := []string{"conv1", "relu", "maxpool", "layer1.0.relu", "layer1.0.add", "layer1.0", "layer2.0.downsample", "layer3", "avgpool", "fc", "prob"}
	b := randomBatch(1, 2, 67, 45)
	ctx := context.Background()
	all, err := dev.Run(ctx, b, names...)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := cpu.Run(ctx, b, names...)
	if err != nil {
		t.Fatal(err)
	}
	if got := all.Names(); !slices.Equal(got, names) {
		t.Errorf("names %v, want %v in network order", got, names)
	}
	for _, name := range names {
		one, err := dev.Run(ctx, b, name)
		if err != nil {
			t.Fatal(err)
		}
		f1, _ := all.Feature(name)
		f2, _ := one.Feature(name)
		if e := layertest.NormErr(f1.Data, f2.Data); e != 0 {
			t.Errorf("%s differs when asked alone: normalised error %g", name, e)
		}
		fc, _ := ref.Feature(name)
		if e := layertest.NormErr(f1.Data, fc.Data); !(e < 1e-4) {
			t.Errorf("%s: device against CPU %.3g", name, e)
		}
	}
	// layer1.0.add is the sum before its ReLU: asking for it keeps the
	// ReLU from being fused, and the two must differ.
	add, _ := all.Feature("layer1.0.add")
	out, _ := all.Feature("layer1.0")
	if slices.Equal(add.Data, out.Data) {
		t.Error("layer1.0.add equals its ReLU'd output: negative sums expected")
	}
}

// TestConcurrentRuns shares one Net between 8 goroutines, each running
// its own inputs and names; every result must equal the sequential one
// bit for bit.
func TestConcurrentRuns(t *testing.T) {
	m := model(t, "resnet18")
	for _, where := range []string{"device", "cpu"} {
		t.Run(where, func(t *testing.T) {
			n := netOn(t, where, m.Graph)
			ctx := context.Background()
			type job struct {
				b     graph.Batch
				names []string
			}
			var jobs []job
			for i := range 8 {
				names := []string{"layer2", "prob"}
				if i%2 == 1 {
					names = []string{"maxpool", "layer3.1"}
				}
				jobs = append(jobs, job{randomBatch(uint64(i), 1+i%2, 40+i, 33), names})
			}
			want := make([]*graph.Result, len(jobs))
			for i, j := range jobs {
				r, err := n.Run(ctx, j.b, j.names...)
				if err != nil {
					t.Fatal(err)
				}
				want[i] = r
			}
			// The CPU reference is slow: there each goroutine runs 2 jobs.
			rounds := len(jobs)
			if where == "cpu" {
				rounds = 2
			}
			var wg sync.WaitGroup
			errs := make(chan error, 8*len(jobs))
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for k := range rounds {
						i := (k + g) % len(jobs)
						r, err := n.Run(ctx, jobs[i].b, jobs[i].names...)
						if err != nil {
							errs <- err
							return
						}
						for _, name := range jobs[i].names {
							got, _ := r.Feature(name)
							exp, _ := want[i].Feature(name)
							if !slices.Equal(got.Data, exp.Data) {
								errs <- fmt.Errorf("goroutine %d job %d %s: differs from the sequential run", g, i, name)
							}
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// TestCancel cancels a large run after it has started and expects
// context.Canceled well before the run would have finished, then uses
// the Net again.
func TestCancel(t *testing.T) {
	m := model(t, "resnet18")
	for _, where := range []string{"device", "cpu"} {
		t.Run(where, func(t *testing.T) {
			n := netOn(t, where, m.Graph)
			big := randomBatch(3, 4, 224, 224)
			if where == "cpu" {
				big = randomBatch(3, 2, 160, 160)
			}
			small := randomBatch(4, 1, 64, 64)
			ctx := context.Background()
			want, err := n.Run(ctx, small, "prob")
			if err != nil {
				t.Fatal(err)
			}
			// A full run, to know how long one takes, after one that
			// records the plan (and on a device times the algorithms of
			// its convolutions once).
			if _, err := n.Run(ctx, big, "prob"); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if _, err := n.Run(ctx, big, "prob"); err != nil {
				t.Fatal(err)
			}
			full := time.Since(start)
			cctx, cancel := context.WithCancel(ctx)
			time.AfterFunc(full/10, cancel)
			start = time.Now()
			_, err = n.Run(cctx, big, "prob")
			took := time.Since(start)
			t.Logf("full run %v; cancelled after %v, returned after %v", full, full/10, took)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v, want context.Canceled", err)
			}
			// A run stops within the submissions in flight, a layer or
			// two: 60% of the run, or more where one layer takes most of
			// it (the GPU kernels on a CPU device: a 7x7 conv is 60% of
			// ResNet-18 there).
			bound := full * 6 / 10
			if n.Device() != nil {
				bound = max(bound, full/10+2*slowestLayer(t, n, big)+100*time.Millisecond)
			}
			if took > bound {
				t.Errorf("cancelled run took %v of a %v run (bound %v)", took, full, bound)
			}
			got, err := n.Run(ctx, small, "prob")
			if err != nil {
				t.Fatal(err)
			}
			g, _ := got.Feature("prob")
			w, _ := want.Feature("prob")
			if !slices.Equal(g.Data, w.Data) {
				t.Error("the Net gives other results after a cancelled run")
			}
		})
	}
}

// TestPooled checks RunPooled against pooling the maps on the host.
func TestPooled(t *testing.T) {
	m := model(t, "resnet18")
	dev := onDevice(t, m.Graph)
	b := randomBatch(5, 3, 50, 41)
	ctx := context.Background()
	maps, err := dev.Run(ctx, b, "layer2", "layer4", "fc")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []graph.Pooling{graph.AvgPooling, graph.MaxPooling} {
		res, err := dev.RunPooled(ctx, b, p, "layer2", "layer4", "fc")
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"layer2", "layer4", "fc"} {
			got, _ := res.Feature(name)
			f, _ := maps.Feature(name)
			if name == "fc" {
				if !slices.Equal(got.Data, f.Data) {
					t.Errorf("%s: a vector changed under pooling", name)
				}
				continue
			}
			nn, hw, c := f.Shape[0], f.Shape[1]*f.Shape[2], f.Shape[3]
			if want := []int{nn, c}; !slices.Equal(got.Shape, want) {
				t.Fatalf("%s pooled: shape %v, want %v", name, got.Shape, want)
			}
			want := make([]float32, nn*c)
			for i := range nn {
				for ch := range c {
					acc := math.Inf(-1)
					if p == graph.AvgPooling {
						acc = 0
					}
					for px := range hw {
						v := float64(f.Data[(i*hw+px)*c+ch])
						if p == graph.AvgPooling {
							acc += v / float64(hw)
						} else {
							acc = math.Max(acc, v)
						}
					}
					want[i*c+ch] = float32(acc)
				}
			}
			layertest.Check(t, name, got.Data, want, layertest.Tol{Atol: 1e-5, Rtol: 1e-5})
		}
	}
}

// TestErrors: names and sizes are checked before any work, with typed
// errors.
func TestErrors(t *testing.T) {
	m := model(t, "alexnet")
	n, _ := graph.NewCPU(m.Graph)
	ctx := context.Background()
	if _, err := n.Run(ctx, randomBatch(1, 1, 64, 64), "features.99"); !errors.Is(err, graph.ErrUnknownLayer) {
		t.Errorf("unknown layer: got %v", err)
	}
	if _, err := n.Run(ctx, randomBatch(1, 1, 40, 40), "prob"); !errors.Is(err, graph.ErrShape) {
		t.Errorf("40x40 AlexNet: got %v, want ErrShape", err)
	}
	if _, err := n.Run(ctx, graph.Batch{N: 1, H: 2, W: 2, Data: make([]float32, 11)}, "prob"); !errors.Is(err, graph.ErrInput) {
		t.Errorf("short input: got %v, want ErrInput", err)
	}
	bad := &graph.Graph{Name: "bad", Nodes: []graph.Node{{Name: "a", Op: m.Graph.Nodes[0].Op, Inputs: []string{"b"}}}}
	if _, err := graph.NewCPU(bad); err == nil {
		t.Error("a graph reading an undefined node was accepted")
	}
}

// TestMemoryLimit: a plan over the memory limit is refused before any
// work with the largest batch that fits, on the CPU and on a device.
func TestMemoryLimit(t *testing.T) {
	m := model(t, "resnet18")
	for _, where := range []string{"device", "cpu"} {
		t.Run(where, func(t *testing.T) {
			n := netOn(t, where, m.Graph)
			b := randomBatch(8, 5, 64, 64)
			three, err := n.Plan(graph.Batch{N: 3, H: 64, W: 64}, "prob")
			if err != nil {
				t.Fatal(err)
			}
			n.SetMemoryLimit(three.ActivationBytes)
			_, err = n.Run(context.Background(), b, "prob")
			var me *graph.MemoryError
			if !errors.As(err, &me) || !errors.Is(err, graph.ErrMemory) {
				t.Fatalf("got %v, want a MemoryError", err)
			}
			t.Log(err)
			if me.MaxBatch != 3 {
				t.Errorf("largest batch that fits: %d, want 3", me.MaxBatch)
			}
			if _, err := n.Run(context.Background(), randomBatch(8, 3, 64, 64), "prob"); err != nil {
				t.Errorf("a batch that fits: %v", err)
			}
			n.SetMemoryLimit(0)
			if _, err := n.Run(context.Background(), b, "prob"); err != nil {
				t.Errorf("default limit: %v", err)
			}
		})
	}
}

// TestRunStats: a run's phases add up to no more than the run, and with
// profiling on the device's times come with them.
func TestRunStats(t *testing.T) {
	m := model(t, "resnet18")
	b := randomBatch(2, 2, 64, 64)
	for _, where := range []string{"cpu", "device"} { // the device last: it may skip
		n := netOn(t, where, m.Graph)
		if where == "device" {
			n.SetProfile(true)
		}
		for range 2 {
			if _, err := n.Run(context.Background(), b, "prob"); err != nil {
				t.Fatal(err)
			}
		}
		st, err := n.Stats()
		if err != nil {
			t.Fatal(err)
		}
		parts := st.Check + st.Plan + st.Upload + st.Device + st.Readback
		if st.Device <= 0 || st.Check <= 0 || parts > st.Total {
			t.Errorf("%s: %+v: phases must be positive where they ran and add up to no more than the run", where, st)
		}
		if where == "device" && n.Device().Info().TimestampPeriodNS > 0 {
			plan, err := n.Plan(b, "prob")
			if err != nil {
				t.Fatal(err)
			}
			// The GPU's clock and the host's agree only roughly, and on a GPU
			// one submission's first timestamp may come before the last
			// one's work has drained: spans within the device phase, with
			// slack.
			subs := plan.Segments
			probe, err := n.Device().NewBuffer(4)
			if err != nil {
				t.Fatal(err)
			}
			if !probe.Mapped() {
				subs += 2 // device-only memory: the input in, prob out (TestRecordedTransfers)
			}
			probe.Close()
			if st.Submissions != subs || st.Dispatches <= 0 || st.Spans <= 0 || st.Spans > st.Device+st.Device/10+time.Millisecond {
				t.Errorf("device: %+v: want %d submissions, positive GPU times, spans within the device phase", st, subs)
			}
		}
	}
}

// TestViewOfInput: a name that is a view of the input needs no work at
// all (a plan of no segments), on the device as on the CPU, twice (the
// second run uses the pace of the first).
func TestViewOfInput(t *testing.T) {
	g := &graph.Graph{Name: "flat", Nodes: []graph.Node{{Name: "flat", Op: layers.Flatten{}, Inputs: []string{graph.Input}}}}
	b := randomBatch(3, 2, 5, 7)
	for _, where := range []string{"device", "cpu"} {
		n := netOn(t, where, g)
		for range 2 {
			res, err := n.Run(context.Background(), b, "flat")
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			got, ok := res.Feature("flat")
			if !ok || !slices.Equal(got.Shape, []int{2, 5 * 7 * 3}) || !slices.Equal(got.Data, b.Data) {
				t.Fatalf("%s: flat %v differs from the input", where, got.Shape)
			}
		}
	}
}

// TestInputRange: values far outside [0,1] (0-255 pixels, float32
// overflow) are refused before any work.
func TestInputRange(t *testing.T) {
	b := randomBatch(9, 1, 8, 8)
	b.Data[7] = 255
	if err := graph.CheckBatch(b); !errors.Is(err, graph.ErrInput) || !strings.Contains(err.Error(), "divided by 255") {
		t.Errorf("a 0-255 value: got %v", err)
	}
	for _, c := range []struct {
		v    float32
		want string
	}{
		{float32(math.NaN()), "finite"}, {float32(math.Inf(1)), "finite"}, {float32(math.Inf(-1)), "finite"},
		{-1.5, "divided by 255"}, {2.001, "divided by 255"},
	} {
		b.Data[7] = c.v
		if err := graph.CheckBatch(b); !errors.Is(err, graph.ErrInput) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "value 7 ") {
			t.Errorf("%v: got %v, want ErrInput naming value 7 and %q", c.v, err, c.want)
		}
	}
	for _, v := range []float32{-1, 2, 0, 1} { // the bounds are accepted
		b.Data[7] = v
		if err := graph.CheckBatch(b); err != nil {
			t.Errorf("%v: %v", v, err)
		}
	}
	b.Data[7] = 3e38
	m := model(t, "alexnet")
	n, _ := graph.NewCPU(m.Graph)
	if _, err := n.Run(context.Background(), b, "features.0"); !errors.Is(err, graph.ErrInput) {
		t.Errorf("3e38: got %v", err)
	}
}

// TestNamesAliasesAndPooling: aliases and repeated names each get their
// feature, pooled or not, and a pooling after layers the input size does
// not fit (fc6 of a VGG at 64x64) still runs.
func TestNamesAliasesAndPooling(t *testing.T) {
	m := model(t, "resnet18")
	n := netOn(t, "cpu", m.Graph)
	b := randomBatch(2, 1, 40, 40)
	ctx := context.Background()
	for _, p := range []graph.Pooling{graph.NoPooling, graph.AvgPooling} {
		res, err := n.RunPooled(ctx, b, p, "bn1", "conv1", "bn1", "layer1")
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Names(); !slices.Equal(got, []string{"bn1", "conv1", "layer1"}) {
			t.Errorf("pooling %v: names %v", p, got)
		}
		a, _ := res.Feature("bn1")
		c, _ := res.Feature("conv1")
		if !slices.Equal(a.Data, c.Data) || len(a.Data) == 0 {
			t.Errorf("pooling %v: bn1 and conv1 differ", p)
		}
	}
	if names := n.Graph().Names(); slices.Contains(names, "layer1.1.relu_1@avg") {
		t.Error("the Net's pooling nodes leak into Graph()")
	}
	vgg := model(t, "vgg11")
	v := netOn(t, "cpu", vgg.Graph)
	res, err := v.RunPooled(ctx, randomBatch(3, 1, 64, 64), graph.MaxPooling, "features.20")
	if err != nil {
		t.Fatalf("pooling the last map of a VGG at 64x64: %v", err)
	}
	if f, _ := res.Feature("features.20"); !slices.Equal(f.Shape, []int{1, 512}) {
		t.Errorf("shape %v", f.Shape)
	}
}

// TestWaitHonoursContext: a run that waits for another gives up when its
// context ends.
func TestWaitHonoursContext(t *testing.T) {
	m := model(t, "resnet18")
	n := netOn(t, "cpu", m.Graph)
	big := randomBatch(4, 2, 160, 160)
	done := make(chan struct{})
	go func() {
		n.Run(context.Background(), big, "prob")
		close(done)
	}()
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := n.Run(ctx, randomBatch(5, 1, 32, 32), "prob")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Errorf("got %v after %v, want the deadline within a second", err, time.Since(start))
	}
	<-done
}

// TestPlansFitTogether: plans kept for other batch sizes count against
// the memory limit; the oldest are dropped so that the new one fits.
func TestPlansFitTogether(t *testing.T) {
	m := model(t, "resnet18")
	n := netOn(t, "device", m.Graph)
	eight, err := n.Plan(graph.Batch{N: 8, H: 64, W: 64}, "prob")
	if err != nil {
		t.Fatal(err)
	}
	n.SetMemoryLimit(eight.ActivationBytes * 11 / 10)
	for _, size := range []int{8, 7, 6, 5, 8} {
		if _, err := n.Run(context.Background(), randomBatch(uint64(size), size, 64, 64), "prob"); err != nil {
			t.Fatalf("batch %d: %v", size, err)
		}
		if held := n.HeldBytes(); held > eight.ActivationBytes*11/10 {
			t.Errorf("after batch %d the recorded plans hold %d bytes, over the limit of %d", size, held, eight.ActivationBytes*11/10)
		}
	}
}

// TestPoolFusion: on a device, a 2x2/2 max pooling after a 3x3 conv and
// its ReLU runs inside the conv (the plan names them together, and the
// conv's output is never allocated), with the CPU reference's results;
// asking for the conv's or the ReLU's output keeps them apart.
func TestPoolFusion(t *testing.T) {
	m := model(t, "vgg11")
	n := onDevice(t, m.Graph)
	cpu, _ := graph.NewCPU(m.Graph)
	b := randomBatch(21, 2, 45, 61)
	ctx := context.Background()
	for _, c := range []struct {
		names []string
		fused bool
	}{
		{[]string{"features.5", "features.20"}, true},
		{[]string{"features.3", "features.5"}, false},
		{[]string{"features.4", "features.5"}, false},
	} {
		plan, err := n.Plan(b, c.names...)
		if err != nil {
			t.Fatal(err)
		}
		fused := false
		for _, l := range plan.Layers {
			fused = fused || l.Name == "features.3+features.5"
		}
		if fused != c.fused {
			t.Errorf("%v: features.3+features.5 fused %v, want %v (%+v)", c.names, fused, c.fused, plan.Layers)
		}
		got, err := n.Run(ctx, b, c.names...)
		if err != nil {
			t.Fatal(err)
		}
		want, err := cpu.Run(ctx, b, c.names...)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range c.names {
			g, _ := got.Feature(name)
			w, _ := want.Feature(name)
			if e := layertest.NormErr(g.Data, w.Data); !(e < 1e-4) {
				t.Errorf("%v: %s: normalised error %.3g", c.names, name, e)
			}
		}
	}
	unfused, _ := n.Plan(b, "features.3", "features.5")
	fusedPlan, _ := n.Plan(b, "features.5")
	if fusedPlan.ActivationBytes >= unfused.ActivationBytes {
		t.Errorf("fusing plans %d bytes, not fusing %d", fusedPlan.ActivationBytes, unfused.ActivationBytes)
	}
}

// TestAddFusion: on a device, each residual sum of a ResNet-50 runs in
// the epilogue of the convolution that computes one of its terms (conv3,
// or the downsampling conv after it), with the CPU reference's results;
// asking for that convolution's output keeps the sum apart.
func TestAddFusion(t *testing.T) {
	m := model(t, "resnet50")
	n := onDevice(t, m.Graph)
	cpu, _ := graph.NewCPU(m.Graph)
	b := randomBatch(22, 2, 40, 56)
	ctx := context.Background()
	plan, err := n.Plan(b, "layer2", "prob")
	if err != nil {
		t.Fatal(err)
	}
	fused := map[string]bool{}
	for _, l := range plan.Layers {
		if strings.HasSuffix(l.Name, ".add") && !strings.Contains(l.Name, "+") {
			t.Errorf("%s runs on its own", l.Name)
		}
		fused[l.Name] = true
	}
	for _, name := range []string{"layer1.0.downsample.0+layer1.0.add", "layer1.1.conv3+layer1.1.add", "layer4.2.conv3+layer4.2.add"} {
		if !fused[name] {
			t.Errorf("no %s in the plan", name)
		}
	}
	for _, names := range [][]string{{"layer2", "prob"}, {"layer1.1.conv3", "layer1.1", "prob"}} {
		got, err := n.Run(ctx, b, names...)
		if err != nil {
			t.Fatal(err)
		}
		want, err := cpu.Run(ctx, b, names...)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			g, _ := got.Feature(name)
			w, _ := want.Feature(name)
			if e := layertest.NormErr(g.Data, w.Data); !(e < 1e-4) {
				t.Errorf("%v: %s: normalised error %.3g", names, name, e)
			}
		}
	}
	apart, _ := n.Plan(b, "layer1.1.conv3", "layer1.1", "prob")
	for _, l := range apart.Layers {
		if l.Name == "layer1.1.conv3+layer1.1.add" {
			t.Error("the sum is fused although the conv's output is asked for")
		}
	}
}

// slowestLayer is the GPU time of the slowest layer of a run of b.
func slowestLayer(t *testing.T, n *graph.Net, b graph.Batch) time.Duration {
	t.Helper()
	n.SetProfile(true)
	defer n.SetProfile(false)
	if _, err := n.Run(context.Background(), b, "prob"); err != nil {
		t.Fatal(err)
	}
	ts, err := n.Timings()
	if err != nil {
		t.Fatal(err)
	}
	byLayer := map[string]time.Duration{}
	var slowest time.Duration
	for _, x := range ts {
		layer, _, _ := strings.Cut(x.Label, " ")
		byLayer[layer] += x.Duration
		slowest = max(slowest, byLayer[layer])
	}
	return slowest
}

// TestRecordedTransfers runs on device-only memory (the staging path of
// discrete GPUs): a run copies the input in and the features out with
// sequences recorded with its plan, one submission each, queued with
// the segments, rather than a submission and a wait per transfer. The
// features equal the CPU reference in both precisions, across plans of
// other shapes and names, and for features too large for the plan's
// host buffers (which go through the device's staging buffer).
func TestRecordedTransfers(t *testing.T) {
	t.Setenv("VKVGG_STAGING", "1")
	m := model(t, "resnet18")
	cpu, _ := graph.NewCPU(m.Graph)
	ctx := context.Background()
	for _, prec := range []layers.Precision{layers.FP32, layers.FP16} {
		t.Run(prec.String(), func(t *testing.T) {
			dev := testdev.Open(t)
			if prec == layers.FP16 && !dev.Half() {
				t.Skipf("%s has no fp16 storage", dev.Info().Name)
			}
			n, err := graph.NewOnOptions(dev, m.Graph, graph.Options{Precision: prec, Kernels: testdev.Kernels(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			tol := 1e-4
			if prec == layers.FP16 {
				tol = 2e-2
			}
			for _, c := range []struct {
				b     graph.Batch
				names []string
				limit int64 // of the host transfer buffers; 0: the default
			}{
				{randomBatch(3, 2, 67, 45), []string{"layer1.0", "avgpool", "prob"}, 0},
				{randomBatch(4, 3, 33, 40), []string{"conv1", "fc"}, 0},
				{randomBatch(3, 2, 67, 45), []string{"layer1.0", "avgpool", "prob"}, 0}, // the first plan again
				{randomBatch(5, 1, 35, 37), []string{"maxpool", "prob"}, 1 << 10},       // both ways through the staging buffer
			} {
				if c.limit > 0 {
					n.SetTransferLimit(c.limit)
				}
				for round := range 2 { // the second run of a plan records nothing
					before := dev.Submissions()
					got, err := n.Run(ctx, c.b, c.names...)
					if err != nil {
						t.Fatal(err)
					}
					st, err := n.Stats()
					if err != nil {
						t.Fatal(err)
					}
					info, err := n.Plan(c.b, c.names...)
					if err != nil {
						t.Fatal(err)
					}
					made := dev.Submissions() - before
					switch {
					case round == 0:
					case c.limit == 0 && (made != uint64(info.Segments+2) || st.Submissions != info.Segments+2):
						t.Errorf("%v %v: a run made %d submissions (stats: %d), want its %d segments and two transfers", c.b.N, c.names, made, st.Submissions, info.Segments)
					case c.limit > 0 && (made < uint64(info.Segments+1+len(c.names)) || st.Submissions != info.Segments):
						t.Errorf("%v %v, transfers beyond the limit: a run made %d submissions (stats: %d), want its %d segments, one upload and a download per feature", c.b.N, c.names, made, st.Submissions, info.Segments)
					}
					want, err := cpu.Run(ctx, c.b, c.names...)
					if err != nil {
						t.Fatal(err)
					}
					for _, name := range c.names {
						g, _ := got.Feature(name)
						w, _ := want.Feature(name)
						if e := layertest.NormErr(g.Data, w.Data); !(e < tol) {
							t.Errorf("%s: normalised error %g against the CPU reference", name, e)
						}
					}
				}
			}
		})
	}
}
