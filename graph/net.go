package graph

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"sort"
	"time"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/layers"
)

// Batch is a network input: N RGB images of H x W, NHWC [N,H,W,3], values
// in [0,1].
type Batch struct {
	N, H, W int
	Data    []float32
}

// Feature is a tensor returned to the host: NHWC [N,H,W,C] for maps,
// [N,F] for vectors.
type Feature struct {
	Name  string
	Shape []int
	Data  []float32
}

// Result holds the features a Run returned.
type Result struct {
	named[Feature]
}

// named is a set of features by name, kept in network order: the results
// of Run (host features) and of RunOnDevice (device features).
type named[F any] struct {
	features map[string]F
	order    []string
}

// add adds a feature, last in order.
func (r *named[F]) add(name string, f F) {
	if r.features == nil {
		r.features = map[string]F{}
	}
	r.features[name] = f
	r.order = append(r.order, name)
}

// Feature returns a feature by name.
func (r *named[F]) Feature(name string) (F, bool) {
	f, ok := r.features[name]
	return f, ok
}

// Names lists the features in network order.
func (r *named[F]) Names() []string { return append([]string(nil), r.order...) }

// maxPlans is how many plans (input shape and requested names) a Net
// keeps recorded.
const maxPlans = 4

// Net is a graph ready to run on a Vulkan device or on the CPU reference.
//
// A Net is safe for concurrent use: runs are serialised (each one uses
// the whole device), so goroutines may share one Net as they share an
// http.Client. A run honours its context: on a device it is split into
// several submissions and stops between them, on the CPU it stops inside
// long layers; either way Run returns ctx.Err() and the Net stays usable.
type Net struct {
	g       *Graph      // the caller's graph and the Net's own pooling nodes
	user    *Graph      // the caller's graph, as given
	dev     *gpu.Device // nil on the CPU
	ownDev  bool
	kit     *layers.Kit
	kernels []layers.Kernel

	transferLimit int64 // defaultTransferLimit; tests change it

	paramBytes int64 // uploaded weights

	mu        runLock    // guards everything below, and every run
	plans     []*gpuPlan // most recently used last
	last      *gpuPlan
	profile   bool
	stats     RunStats // of the last successful Run, host phases (Stats adds the GPU's)
	statsPlan *gpuPlan // the plan that run used (nil on the CPU reference)
	memLimit  int64
	closed    bool
	inflight  []*gpu.Sequence // started by RunOnDeviceAsync, not yet waited for
	owned     []*gpu.Sequence // made for those runs; settle closes them
}

// NewCPU returns a Net that runs g with the CPU reference.
func NewCPU(g *Graph) (*Net, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return &Net{g: g.clone(), user: g, mu: make(runLock, 1)}, nil
}

// clone copies the graph's structure (not its ops), so that a Net can
// add pooling nodes of its own.
func (g *Graph) clone() *Graph {
	c := *g
	c.Nodes = append([]Node(nil), g.Nodes...)
	return &c
}

// NewOn uploads g's parameters to dev, which the caller keeps owning.
// With release, each op's host parameters are dropped once uploaded (see
// layers.Releaser), so that the host does not hold a second copy of the
// weights; the graph then cannot run on the CPU.
func NewOn(dev *gpu.Device, g *Graph, release bool) (*Net, error) {
	return NewOnPrecision(dev, g, release, layers.FP32)
}

// NewOnPrecision is NewOn storing weights and activations on the device
// in precision p (layers.Precision: with FP16 they are 16-bit floats and
// arithmetic stays fp32). Inputs and features on the host are float32
// either way.
func NewOnPrecision(dev *gpu.Device, g *Graph, release bool, p layers.Precision) (*Net, error) {
	return NewOnOptions(dev, g, Options{Release: release, Precision: p})
}

// Options configure NewOnOptions; the zero value is NewOn's without
// release.
type Options struct {
	// Release drops each op's host parameters once uploaded (see NewOn).
	Release bool
	// Precision is how the device stores weights and activations (see
	// NewOnPrecision).
	Precision layers.Precision
	// Kernels chooses among the device's kernels: a kernel family, a
	// Winograd mode, no subgroup operations (layers.KernelOptions; the
	// zero value chooses by device and by measurement).
	Kernels layers.KernelOptions
}

// NewOnOptions is NewOn with every option.
func NewOnOptions(dev *gpu.Device, g *Graph, opts Options) (*Net, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	kit, err := layers.NewKitOptions(dev, opts.Precision, opts.Kernels)
	if err != nil {
		return nil, err
	}
	n := &Net{g: g.clone(), user: g, dev: dev, kit: kit, mu: make(runLock, 1), transferLimit: defaultTransferLimit}
	for _, nd := range g.Nodes {
		k, err := nd.Op.Upload(n.kit)
		if err != nil {
			n.Close()
			return nil, fmt.Errorf("graph: uploading %s (%s): %w", nd.Name, nd.Op.Kind(), err)
		}
		n.kernels = append(n.kernels, k)
		for _, p := range nd.Op.Params() {
			es := int64(kit.ElemSize())
			if len(p.Shape) <= 1 {
				es = 4 // biases and other vectors stay fp32
			}
			n.paramBytes += es * int64(len(p.Data))
		}
		if r, ok := nd.Op.(layers.Releaser); ok && opts.Release {
			big := 0
			for _, p := range nd.Op.Params() {
				big += len(p.Data)
			}
			r.ReleaseParams()
			if big > 1<<22 {
				debug.FreeOSMemory() // return it before the next layer's device memory
			}
		}
	}
	return n, nil
}

// Precision is how the Net stores weights and activations on its
// device (FP32 on the CPU).
func (n *Net) Precision() layers.Precision {
	if n.kit == nil {
		return layers.FP32
	}
	return n.kit.Precision()
}

// Own makes Close close the device too.
func (n *Net) Own() { n.ownDev = true }

// Graph is the network.
func (n *Net) Graph() *Graph { return n.user }

// Device is the Vulkan device, or nil on the CPU.
func (n *Net) Device() *gpu.Device { return n.dev }

// Close frees the device memory (and the device when the Net owns it).
// It waits for a run in progress. It is idempotent and nil-safe.
func (n *Net) Close() error {
	if n == nil {
		return nil
	}
	n.mu.lock()
	defer n.mu.unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	errs := []error{n.settle()}
	for _, p := range n.plans {
		errs = append(errs, p.close())
	}
	n.plans, n.last = nil, nil
	for _, k := range n.kernels {
		errs = append(errs, k.Close())
	}
	errs = append(errs, n.kit.Close())
	if n.ownDev {
		errs = append(errs, n.dev.Close())
	}
	return errors.Join(errs...)
}

// SetProfile turns GPU timestamps on or off for the following runs.
func (n *Net) SetProfile(on bool) {
	n.mu.lock()
	defer n.mu.unlock()
	n.settle()
	if on != n.profile {
		for _, p := range n.plans {
			p.close()
		}
		n.plans, n.last = nil, nil
	}
	n.profile = on
}

// Timings returns the GPU time of each dispatch of the last run, labelled
// with its layer, when profiling is on and the device has timestamps. A
// segment of more than 1024 dispatches (a large batch of small chunks)
// cannot be timed: Timings returns an error wrapping gpu.ErrUntimed.
func (n *Net) Timings() ([]gpu.Timing, error) {
	n.mu.lock()
	defer n.mu.unlock()
	if err := n.settle(); err != nil {
		return nil, err
	}
	if n.last == nil || !n.profile {
		return nil, nil
	}
	return n.last.timings()
}

// RunStats says where the last successful Run's (or RunPooled's) time
// went: each phase's wall time on the host, and with profiling on
// (SetProfile) the device's own time. On the CPU reference, Device is the
// computation.
type RunStats struct {
	Total    time.Duration // the whole Run, lock and feature assembly included
	Check    time.Duration // CheckBatch
	Plan     time.Duration // finding the recorded plan (recording a new one)
	Upload   time.Duration // the input into device memory, or the plan's host buffer for it (fp16: converted on the host)
	Device   time.Duration // submitting the work and waiting for it
	Readback time.Duration // the features into host memory (fp16: converted and checked)
	// Submissions is how many sequences the run started: its segments,
	// and where the device's memory is not mapped, the one that uploads
	// the input and the one that reads the features back (an input or
	// features over 64 MiB go through the device's staging buffer
	// instead, in submissions not counted here). With profiling on, where the
	// device has timestamps, Dispatches is the sum of the dispatches' own
	// GPU times, and Spans the sum over submissions of the time from
	// their first dispatch's start to their last one's end (the gaps and
	// barriers between dispatches within a submission included).
	// Untimed says some submission had too many dispatches to time
	// (gpu.ErrUntimed); the sums leave it out.
	Dispatches, Spans time.Duration
	Submissions       int
	Untimed           bool
}

// Tuned lists the choices the Net's layers made so far (see
// layers.Kit.Tuned): the algorithm of each 3x3 convolution and its
// Winograd GEMM kernel, an fc layer's kernel, a general convolution's
// tiles or im2col, per input shape, with the candidates' times where this
// Net timed them (nil for a choice read from the tuning file). A shape
// chooses when it first runs. It is nil on the CPU reference.
func (n *Net) Tuned() []layers.Tuned {
	n.mu.lock()
	defer n.mu.unlock()
	if n.kit == nil {
		return nil
	}
	return n.kit.Tuned()
}

// TuningError is why the Net's last save of its timed choices failed, or
// nil (layers.Kit.TuningError).
func (n *Net) TuningError() error {
	n.mu.lock()
	defer n.mu.unlock()
	if n.kit == nil {
		return nil
	}
	return n.kit.TuningError()
}

// Stats returns where the last successful Run's time went. The device's
// times need profiling on; without it, on the CPU reference, after a
// run that failed, or after a RunOnDevice, they are zero.
func (n *Net) Stats() (RunStats, error) {
	n.mu.lock()
	defer n.mu.unlock()
	if err := n.settle(); err != nil {
		return RunStats{}, err
	}
	st := n.stats
	p := n.statsPlan
	if p == nil || !n.profile || p != n.last { // a device run came after
		return st, nil
	}
	for _, q := range p.segs {
		ts, err := q.Timings()
		if errors.Is(err, gpu.ErrUntimed) {
			st.Untimed = true
			continue
		}
		if err != nil {
			return st, err
		}
		for _, t := range ts {
			st.Dispatches += t.Duration
		}
		d, err := q.Span()
		if err != nil {
			return st, err
		}
		st.Spans += d
	}
	return st, nil
}

// Input values must lie in [MinInput, MaxInput]: the networks take RGB
// in [0,1], and a little slack admits the ringing of a resize. A batch of
// 0-255 pixel values is the usual mistake this catches; values far
// outside also overflow float32 arithmetic inside the network, where the
// CPU reference and a GPU would disagree on NaN and infinity.
const (
	MinInput = -1
	MaxInput = 2
)

// CheckBatch validates a batch: sizes, length and values (finite, within
// [MinInput, MaxInput]). Run calls it before any work; a program may call
// it before loading weights.
func CheckBatch(b Batch) error {
	if b.N < 1 || b.H < 1 || b.W < 1 {
		return fmt.Errorf("%w: [%d,%d,%d,3]: every dimension must be at least 1", ErrInput, b.N, b.H, b.W)
	}
	if float64(b.N)*float64(b.H)*float64(b.W)*3 != float64(len(b.Data)) {
		return fmt.Errorf("%w: [%d,%d,%d,3] needs %d values, got %d", ErrInput, b.N, b.H, b.W, b.N*b.H*b.W*3, len(b.Data))
	}
	// One comparison pair per value, false for NaN too: on a fast GPU
	// this loop is a visible share of a run. The message is worked out
	// once a value fails.
	for i, v := range b.Data {
		if v >= MinInput && v <= MaxInput {
			continue
		}
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%w: value %d is %v: inputs must be finite", ErrInput, i, v)
		}
		return fmt.Errorf("%w: value %d is %v: inputs are RGB in [0,1] (values in [%d,%d] are accepted; 0-255 pixels must be divided by 255)", ErrInput, i, v, MinInput, MaxInput)
	}
	return nil
}

// CheckRun checks names and an input size against the graph, as a Run
// of n images of h x w would, without any work.
func (g *Graph) CheckRun(n, h, w int, names ...string) error {
	if n < 1 || h < 1 || w < 1 {
		return fmt.Errorf("%w: [%d,%d,%d,3]: every dimension must be at least 1", ErrInput, n, h, w)
	}
	if err := g.Validate(); err != nil {
		return err
	}
	_, err := newSchedule(g, layers.Shape{N: n, H: h, W: w, C: 3}, names, fusers{relu: func(int) bool { return false }})
	return err
}

// MemoryError is a plan larger than the memory available: Need bytes of
// activations against Have; MaxBatch images of the same size would fit
// (0 when not even one does). It wraps ErrMemory.
type MemoryError struct {
	Need, Have int64
	MaxBatch   int
	What       string // "the device" or "the CPU limit"
	Input      [3]int // N, H, W
}

func (e *MemoryError) Error() string {
	fit := "not even one image fits"
	if e.MaxBatch > 0 {
		fit = fmt.Sprintf("batches of at most %d images fit", e.MaxBatch)
	}
	need, have := mib(e.Need), mib(e.Have)
	if need == have {
		need, have = fmt.Sprintf("%d bytes", e.Need), fmt.Sprintf("%d bytes", e.Have)
	}
	return fmt.Sprintf("%v: a batch of %d images of %dx%d needs %s of activations, %s has %s: %s",
		ErrMemory, e.Input[0], e.Input[1], e.Input[2], need, e.What, have, fit)
}

// mib formats a byte count in MiB with one decimal.
func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func (e *MemoryError) Unwrap() error { return ErrMemory }

// Fits reports whether a run of n images of h x w returning names fits
// the memory limit, with a MemoryError (naming the largest batch that
// fits) when it does not; names and sizes are checked too.
func (n *Net) Fits(images, h, w int, names ...string) error {
	s, err := newSchedule(n.g, layers.Shape{N: images, H: h, W: w, C: 3}, names, n.fusers())
	if err != nil {
		return err
	}
	n.mu.lock()
	defer n.mu.unlock()
	return n.checkMemory(s)
}

// HeldBytes is the activation memory the Net's recorded plans hold.
func (n *Net) HeldBytes() int64 {
	n.mu.lock()
	defer n.mu.unlock()
	var held int64
	for _, p := range n.plans {
		held += p.s.info().ActivationBytes
	}
	return held
}

// SetMemoryLimit bounds the activation memory of a run (bytes; 0 restores
// the default). On the CPU the default is half of the machine's memory; on
// a device it is the device's memory less the weights and what the layers made
// beyond them (Winograd weights, scratch: layers.Kit.HeldBytes).
func (n *Net) SetMemoryLimit(bytes int64) {
	n.mu.lock()
	n.memLimit = bytes
	n.mu.unlock()
}

// memoryLimit is the bound that applies and what it is.
func (n *Net) memoryLimit() (int64, string) {
	if n.memLimit > 0 {
		return n.memLimit, "the memory limit"
	}
	if n.dev == nil {
		return hostMemory() / 2, "the CPU limit (half the machine's memory)"
	}
	have := int64(n.dev.Info().DeviceLocalBytes) - n.paramBytes - n.kit.HeldBytes()
	return have, "the device (less its weights and its layers' scratch)"
}

// checkMemory compares a plan's activations with the memory limit. The
// largest batch that fits is found by planning smaller ones.
func (n *Net) checkMemory(s *schedule) error {
	have, what := n.memoryLimit()
	need := s.info().ActivationBytes
	if have <= 0 || need <= have {
		return nil
	}
	e := &MemoryError{Need: need, Have: have, What: what, Input: [3]int{s.in.N, s.in.H, s.in.W}}
	names := make([]string, len(s.kept))
	for i, k := range s.kept {
		names[i] = k.name
	}
	lo, hi := 0, s.in.N // lo fits (0 trivially), hi does not
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		in := s.in
		in.N = mid
		t, err := newSchedule(n.g, in, names, n.fusers())
		if err != nil || t.info().ActivationBytes > have {
			hi = mid
		} else {
			lo = mid
		}
	}
	e.MaxBatch = lo
	return e
}

// Plan reports the memory a run of b (only its size matters) returning
// names would plan, without running it; it also checks the names and the
// size.
func (n *Net) Plan(b Batch, names ...string) (PlanInfo, error) {
	n.mu.lock()
	defer n.mu.unlock()
	s, err := newSchedule(n.g, layers.Shape{N: b.N, H: b.H, W: b.W, C: 3}, names, n.fusers())
	if err != nil {
		return PlanInfo{}, err
	}
	return s.info(), nil
}

// fusers are what the Net's executor fuses: ReLUs everywhere; on a device,
// poolings and residual sums into the convolution before them where its
// kernel offers it.
func (n *Net) fusers() fusers {
	f := fusers{relu: n.fusable}
	if n.dev != nil {
		f.prec = n.kit.Precision()
		f.pool = func(node, pool int, in []layers.Shape) bool {
			k, ok := n.kernels[node].(layers.PoolKernel)
			return ok && k.FusesPool(n.g.Nodes[pool].Op, in)
		}
		f.add = func(node int, in []layers.Shape) bool {
			k, ok := n.kernels[node].(layers.AddKernel)
			return ok && k.FusesAdd(in)
		}
	}
	return f
}

// fusable tells whether node i can apply its reader's ReLU: on the CPU
// its op must be a ReLUFuser, on a device its kernel a ReLUKernel.
func (n *Net) fusable(i int) bool {
	if _, ok := n.g.Nodes[i].Op.(layers.ReLUFuser); !ok {
		return false
	}
	if n.dev == nil {
		return true
	}
	_, ok := n.kernels[i].(layers.ReLUKernel)
	return ok
}

// Pooling reduces requested maps over height and width (RunPooled).
type Pooling int

// The poolings: none, the mean, the maximum.
const (
	NoPooling Pooling = iota
	AvgPooling
	MaxPooling
)

// ParsePooling reads "", "none", "avg" or "max".
func ParsePooling(s string) (Pooling, error) {
	switch s {
	case "", "none":
		return NoPooling, nil
	case "avg", "mean":
		return AvgPooling, nil
	case "max":
		return MaxPooling, nil
	}
	return 0, fmt.Errorf("graph: pooling %q: want avg, max or none", s)
}

// Run computes the network on a batch, up to the deepest layer named, and
// returns the named features (and nothing else: other tensors are never
// copied to the host). Names and the input are checked before any work.
func (n *Net) Run(ctx context.Context, b Batch, names ...string) (*Result, error) {
	return n.RunPooled(ctx, b, NoPooling, names...)
}

// begin starts a run: it takes the Net's lock (waiting for the run in
// progress, unless ctx ends first), checks the Net is open and waits for
// work RunOnDeviceAsync left running. On success the caller holds n.mu.
func (n *Net) begin(ctx context.Context) error {
	if err := n.mu.lockCtx(ctx); err != nil {
		return err
	}
	if n.closed {
		n.mu.unlock()
		return ErrClosed
	}
	if err := n.settle(); err != nil {
		n.mu.unlock()
		return err
	}
	return nil
}

// RunPooled is Run with every requested map reduced over height and
// width on the device before readback, as Keras's pooling='avg' does: a
// map [N,H,W,C] comes back as [N,C]; vectors come back as they are.
func (n *Net) RunPooled(ctx context.Context, b Batch, pool Pooling, names ...string) (*Result, error) {
	start := time.Now()
	if err := CheckBatch(b); err != nil {
		return nil, err
	}
	check := time.Since(start)
	if err := n.begin(ctx); err != nil {
		return nil, err
	}
	defer n.mu.unlock()
	st := RunStats{Check: check}
	n.statsPlan = nil // this run resubmits the plans: their times are its own
	asked := names
	if pool != NoPooling {
		var err error
		if names, err = n.pooled(b, pool, names); err != nil {
			return nil, err
		}
	}
	s, err := newSchedule(n.g, layers.Shape{N: b.N, H: b.H, W: b.W, C: 3}, names, n.fusers())
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out map[int][]float32
	if n.dev == nil {
		if err := n.checkMemory(s); err != nil {
			return nil, err
		}
		t0 := time.Now()
		out, err = n.runCPU(ctx, s, b)
		st.Device = time.Since(t0)
	} else {
		out, err = n.runGPU(ctx, s, b, &st)
	}
	if err != nil {
		return nil, err
	}
	// Every name asked for gets its feature, in network order, even when
	// two name one tensor (aliases, or two maps pooled alike); a pooled map
	// keeps the name asked for.
	nodeOf := map[string]int{}
	for _, k := range s.kept {
		nodeOf[k.name] = k.node
	}
	type item struct {
		node int
		f    Feature
	}
	var items []item
	given := map[int]bool{}
	seen := map[string]bool{}
	for i, name := range asked {
		if seen[name] {
			continue
		}
		seen[name] = true
		node := nodeOf[names[i]]
		data := out[node]
		if given[node] {
			data = append([]float32(nil), data...) // each name its own copy
		}
		given[node] = true
		items = append(items, item{node, Feature{Name: name, Shape: s.featureShape(node), Data: data}})
	}
	sort.SliceStable(items, func(a, b int) bool { return items[a].node < items[b].node })
	r := &Result{}
	for _, it := range items {
		r.add(it.f.Name, it.f)
	}
	st.Total = time.Since(start)
	n.stats, n.statsPlan = st, nil
	if n.dev != nil {
		n.statsPlan = n.last
	}
	return r, nil
}

// pooled returns the names of pooling nodes over the requested maps,
// adding them to the Net's graph (and uploading them) the first time.
func (n *Net) pooled(b Batch, pool Pooling, names []string) ([]string, error) {
	idx := n.g.index()
	out := make([]string, len(names))
	for i, name := range names {
		node, err := n.g.resolve(idx, name)
		if err != nil {
			return nil, err
		}
		sch, err := newSchedule(n.g, layers.Shape{N: b.N, H: b.H, W: b.W, C: 3}, []string{name}, fusers{relu: func(int) bool { return false }})
		if err != nil {
			return nil, err
		}
		if sch.vec[node] {
			out[i] = name
			continue
		}
		suffix := "@avg"
		if pool == MaxPooling {
			suffix = "@max"
		}
		pn := n.g.Nodes[node].Name + suffix
		out[i] = pn
		if _, ok := idx[pn]; ok {
			continue
		}
		op := &layers.Pool{Avg: pool == AvgPooling, Adaptive: true, OH: 1, OW: 1, Flat: true}
		if n.dev != nil {
			k, err := op.Upload(n.kit)
			if err != nil {
				return nil, err
			}
			n.kernels = append(n.kernels, k)
		}
		n.g.Nodes = append(n.g.Nodes, Node{Name: pn, Op: op, Inputs: []string{n.g.Nodes[node].Name}})
		idx[pn] = len(n.g.Nodes) - 1
	}
	return out, nil
}

// runCPU runs the schedule with the ops' CPU references, dropping each
// tensor after its last reader.
func (n *Net) runCPU(ctx context.Context, s *schedule, b Batch) (map[int][]float32, error) {
	idx := n.g.index()
	vals := map[int][]float32{-1: b.Data}
	for pos, e := range s.run {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		nd := n.g.Nodes[e]
		var ins []layers.HostTensor
		for j, name := range nd.Inputs {
			st := -1
			if name != Input {
				st = s.storage[idx[name]]
			}
			ins = append(ins, layers.HostTensor{Data: vals[st], Shape: s.inShapes(n.g, idx, e)[j]})
		}
		op := nd.Op
		if s.fuse[e] {
			op = op.(layers.ReLUFuser).WithReLU()
		}
		out, err := op.CPU(ctx, ins)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("graph: layer %s (%s): %w", nd.Name, op.Kind(), err)
		}
		vals[e] = out
		for st, lu := range s.lastUse {
			if lu == pos && !s.keepSt[st] {
				delete(vals, st)
			}
		}
	}
	out := map[int][]float32{}
	for _, k := range s.kept {
		d := vals[s.storage[k.node]]
		if len(s.kept) > 1 {
			d = append([]float32(nil), d...) // names sharing memory get copies of their own
		}
		out[k.node] = d
	}
	return out, nil
}

// runGPU finds or records the plan, uploads the batch, runs the
// submissions and downloads the kept tensors.
func (n *Net) runGPU(ctx context.Context, s *schedule, b Batch, st *RunStats) (map[int][]float32, error) {
	t0 := time.Now()
	p, err := n.planFor(ctx, s)
	if err != nil {
		return nil, err
	}
	n.last = p
	if err := p.recordReadback(n.dev); err != nil {
		return nil, err
	}
	st.Plan = time.Since(t0)
	if err := p.run(ctx, n.kit, b.Data, st, true); err != nil {
		return nil, err
	}
	t0 = time.Now()
	defer func() { st.Readback = time.Since(t0) }()
	out := map[int][]float32{}
	for i, k := range s.kept {
		t := p.tensor(k.node)
		d := make([]float32, t.Shape.Len())
		src, off := t.Buf, t.Off
		if p.down != nil { // copied into the plan's host buffer by the run
			src, off = p.downHost, p.downAt[i]
		}
		if err := n.kit.Read(src, off, d); err != nil {
			return nil, err
		}
		if n.kit.Precision() == layers.FP16 {
			// fp16 ends at 65504: a layer beyond it stores infinities,
			// which the next layers turn into NaN. Say so rather than
			// hand them back.
			for _, v := range d {
				if v-v != 0 { // infinite or NaN
					return nil, fmt.Errorf("graph: %s holds %v in fp16: some layer up to it exceeds fp16's range (65504); run in fp32", k.name, v)
				}
			}
		}
		out[k.node] = d
	}
	return out, nil
}

// planFor returns the recorded plan of s, recording it when it is new and
// dropping the least recently used beyond maxPlans.
func (n *Net) planFor(ctx context.Context, s *schedule) (*gpuPlan, error) {
	for i, p := range n.plans {
		if p.s.key == s.key {
			n.plans = append(append(n.plans[:i:i], n.plans[i+1:]...), p)
			return p, nil
		}
	}
	if err := n.checkMemory(s); err != nil {
		return nil, err
	}
	// Recorded plans keep their buffers: drop the least recently used
	// until the new one fits beside the others.
	have, _ := n.memoryLimit()
	need := s.info().ActivationBytes
	for len(n.plans) > 0 {
		var held int64
		for _, p := range n.plans {
			held += p.s.info().ActivationBytes
		}
		if len(n.plans) < maxPlans && (have <= 0 || held+need <= have) {
			break
		}
		if err := n.plans[0].close(); err != nil {
			return nil, err
		}
		n.plans = n.plans[1:]
	}
	p, err := newGPUPlan(ctx, n, s)
	if err != nil {
		return nil, err
	}
	n.plans = append(n.plans, p)
	return p, nil
}

// runLock is a mutex that a waiter can give up on when its context ends.
type runLock chan struct{}

func (l runLock) lock()   { l <- struct{}{} }
func (l runLock) unlock() { <-l }

func (l runLock) lockCtx(ctx context.Context) error {
	select {
	case l <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
