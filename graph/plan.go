package graph

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/vkvgg/vkvgg/layers"
)

// schedule is the device-independent part of a plan: which nodes run, in
// which order, where each tensor lives, and which buffer each storage
// gets. It is computed once per input shape and set of requested names.
type schedule struct {
	key    string
	in     layers.Shape
	prec   layers.Precision // how the device stores the tensors
	shapes []layers.Shape   // per node, up to the deepest requested one
	vec    []bool
	run    []int        // nodes executed, in order
	fuse   map[int]bool // node applies the ReLU of the node that reads it
	// absorbed: a pooling node that runs fused with the node it reads
	// (pooling -> that node, which does not run).
	absorbed map[int]int
	// residual: for a sum absorbed into the node computing one term, the
	// name of the other term.
	residual map[int]string
	storage  []int  // node -> the executed node whose output memory it is (-1: the input)
	kept     []kept // requested names in network order
	keepSt   map[int]bool
	lastUse  map[int]int // storage -> position in run of its last reader
	// Buffers: sizes in elements, and the buffer of each storage.
	bufSize []int
	bufOf   map[int]int
	// Statistics.
	tensorElems int // sum of every computed tensor (and the input)
	segments    [][]int
	costs       []LayerCost // of the nodes run, in order
}

// LayerCost is the work of one layer of a run: its estimated
// floating-point operations (Counted: the op states them; otherwise one
// per output element) and the bytes of its inputs, parameters and output
// (float32).
type LayerCost struct {
	Name    string
	FLOPs   float64
	Counted bool
	Bytes   int64
}

// kept is one requested name and the node whose output it is.
type kept struct {
	name string
	node int
}

// PlanInfo reports a plan's activation memory.
type PlanInfo struct {
	// ActivationBytes is the memory the plan allocates for activations
	// (the input, every intermediate tensor, and the kept outputs).
	ActivationBytes int64
	// TensorBytes is the sum of the sizes of all those tensors: what the
	// plan would need without reusing memory.
	TensorBytes int64
	// Buffers is the number of activation buffers.
	Buffers int
	// Nodes is the number of operations run (after fusing ReLUs and
	// eliding views), Segments the number of submissions.
	Nodes, Segments int
	// FLOPs is the run's estimated work (2 per multiply-add of the
	// convolutions and fc layers, one per output element elsewhere), and
	// Layers the work of each operation run.
	FLOPs  float64
	Layers []LayerCost
}

// bufBytes is the size of a buffer of elems elements: whole vec4s, and
// at least one.
func (s *schedule) bufBytes(elems int) int64 {
	return s.prec.Bytes(max(elems, 4))
}

func (s *schedule) info() PlanInfo {
	var act int64
	for _, b := range s.bufSize {
		act += s.bufBytes(b)
	}
	info := PlanInfo{ActivationBytes: act, TensorBytes: int64(s.tensorElems) * int64(s.prec.Size()), Buffers: len(s.bufSize), Nodes: len(s.run), Segments: len(s.segments),
		Layers: append([]LayerCost(nil), s.costs...)}
	for _, c := range s.costs {
		info.FLOPs += c.FLOPs
	}
	return info
}

// canFuse tells whether a node's op can take the ReLU of its reader.
type canFuse func(node int) bool

// fusers say what the executor can fuse: a ReLU into the node before it
// (relu), and a pooling node into the node whose output it reads (pool,
// given that node's input shapes); nil pool fuses none.
type fusers struct {
	relu canFuse
	pool func(node, pool int, in []layers.Shape) bool
	add  func(node int, in []layers.Shape) bool // a sum into the node computing one of its terms
	prec layers.Precision                       // how the device stores tensors (FP32 on the CPU)
}

// newSchedule plans a run of g on input shape in that returns names.
func newSchedule(g *Graph, in layers.Shape, names []string, fu fusers) (*schedule, error) {
	fusable := fu.relu
	idx := g.index()
	s := &schedule{in: in, prec: fu.prec, fuse: map[int]bool{}, keepSt: map[int]bool{}, lastUse: map[int]int{}, bufOf: map[int]int{}, absorbed: map[int]int{}, residual: map[int]string{}}
	last := -1
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		i, err := g.resolve(idx, name)
		if err != nil {
			return nil, err
		}
		s.kept = append(s.kept, kept{name, i})
		last = max(last, i)
	}
	if last < 0 {
		return nil, fmt.Errorf("%w: no layer requested", ErrUnknownLayer)
	}
	sort.SliceStable(s.kept, func(a, b int) bool { return s.kept[a].node < s.kept[b].node })
	keys := make([]string, len(s.kept))
	for i, k := range s.kept {
		keys[i] = k.name
	}
	s.key = fmt.Sprintf("%dx%dx%d/%s", in.N, in.H, in.W, strings.Join(keys, ","))

	// The nodes needed: the requested ones and everything they read.
	needed := make([]bool, last+1)
	requested := map[int]bool{}
	for _, k := range s.kept {
		needed[k.node], requested[k.node] = true, true
	}
	readers := make([][]int, last+1)
	for i := last; i >= 0; i-- {
		if !needed[i] {
			continue
		}
		for _, name := range g.Nodes[i].Inputs {
			if name != Input {
				j := idx[name]
				needed[j] = true
				readers[j] = append(readers[j], i)
			}
		}
	}

	// Shapes of the needed nodes only: a node added after layers the
	// input size does not fit (a pooling or a head after fc6) still runs.
	var err error
	if s.shapes, s.vec, err = g.shapesOf(in, needed); err != nil {
		return nil, err
	}

	// Where each tensor lives: a ReLU fused into the node before it, and
	// a view, share that node's memory and run nothing.
	s.storage = make([]int, last+1)
	src := func(name string) int {
		if name == Input {
			return -1
		}
		return s.storage[idx[name]]
	}
	for i := 0; i <= last; i++ {
		if !needed[i] {
			continue
		}
		n := g.Nodes[i]
		s.storage[i] = i
		if v, ok := n.Op.(layers.Viewer); ok && v.IsView() {
			s.storage[i] = src(n.Inputs[0])
			continue
		}
		if a, ok := n.Op.(layers.Activation); ok && a.IsReLU() && len(n.Inputs) == 1 && n.Inputs[0] != Input {
			p := idx[n.Inputs[0]]
			if s.storage[p] == p && !requested[p] && len(readers[p]) == 1 && !s.fuse[p] && fusable(p) {
				s.fuse[p] = true
				s.storage[i] = p
				continue
			}
		}
		// A pooling that reads only what one node (perhaps with its fused
		// ReLU) wrote, and nothing else reads or keeps: the node applies
		// it and its own output never exists.
		if fu.pool != nil && len(n.Inputs) == 1 && n.Inputs[0] != Input {
			r := idx[n.Inputs[0]]
			p := s.storage[r]
			if p >= 0 && len(s.run) > 0 && s.run[len(s.run)-1] == p && s.soleChain(g, idx, r, p, readers, requested) && fu.pool(p, i, s.inShapes(g, idx, p)) {
				s.run = s.run[:len(s.run)-1]
				s.absorbed[i] = p
			}
		}
		// A sum one of whose terms the node just run computed, for no
		// other reader and without a ReLU of its own: that node adds the
		// other term as it writes.
		if _, ok := n.Op.(layers.Residual); ok && fu.add != nil && len(n.Inputs) == 2 {
			for j := range 2 {
				if n.Inputs[j] == Input {
					continue
				}
				r := idx[n.Inputs[j]]
				other := n.Inputs[1-j]
				if p := s.storage[r]; p == r && len(s.run) > 0 && s.run[len(s.run)-1] == p && !requested[p] && len(readers[p]) == 1 &&
					!s.fuse[p] && src(other) != p && fu.add(p, s.inShapes(g, idx, p)) {
					s.run = s.run[:len(s.run)-1]
					s.absorbed[i] = p
					s.residual[i] = other
					break
				}
			}
		}
		s.run = append(s.run, i)
	}
	for _, k := range s.kept {
		s.keepSt[s.storage[k.node]] = true
	}
	for pos, e := range s.run {
		for _, name := range s.inputs(g, e) {
			s.lastUse[src(name)] = pos
		}
	}

	// Buffers by liveness: a storage's buffer returns to the free list
	// after its last reader has been recorded, never when it is kept; an
	// output never shares a buffer with its inputs. Each storage takes
	// the smallest free buffer that holds it, or grows the largest.
	var free []int
	assign := func(st, elems int) {
		s.tensorElems += elems
		if s.keepSt[st] {
			s.bufOf[st] = len(s.bufSize)
			s.bufSize = append(s.bufSize, elems)
			return
		}
		best := -1
		for fi, b := range free {
			if best < 0 {
				best = fi
				continue
			}
			sz, cur := s.bufSize[b], s.bufSize[free[best]]
			if fits, curFits := sz >= elems, cur >= elems; fits && (!curFits || sz < cur) || !fits && !curFits && sz > cur {
				best = fi
			}
		}
		if best < 0 {
			s.bufOf[st] = len(s.bufSize)
			s.bufSize = append(s.bufSize, elems)
			return
		}
		b := free[best]
		free = append(free[:best], free[best+1:]...)
		s.bufSize[b] = max(s.bufSize[b], elems)
		s.bufOf[st] = b
	}
	release := func(pos int) {
		for st, lu := range s.lastUse {
			if lu == pos && !s.keepSt[st] {
				free = append(free, s.bufOf[st])
			}
		}
		sort.Ints(free) // deterministic plans
	}
	assign(-1, in.Len())
	for pos, e := range s.run {
		assign(e, s.shapes[e].Len())
		release(pos)
	}

	// Submissions: nodes are grouped until a group holds about 1/24 of the
	// run's work, so that a cancelled run stops within a layer or two and
	// the device is never starved between submissions (two are queued).
	cost := make([]float64, len(s.run))
	var total float64
	for pos, e := range s.run {
		cost[pos] = s.flops(g, idx, e)
		first, name := e, g.Nodes[e].Name
		if p, ok := s.absorbed[e]; ok {
			cost[pos] += s.flops(g, idx, p)
			first, name = p, s.label(g, e)
		}
		total += cost[pos]
		bytes := int64(s.shapes[e].Len())
		for _, in := range s.inShapes(g, idx, first) {
			bytes += int64(in.Len())
		}
		for _, p := range g.Nodes[first].Op.Params() {
			n := int64(1)
			for _, d := range p.Shape {
				n *= int64(d)
			}
			bytes += n
		}
		_, counted := g.Nodes[first].Op.(layers.Coster)
		s.costs = append(s.costs, LayerCost{Name: name, FLOPs: cost[pos], Counted: counted, Bytes: int64(s.prec.Size()) * bytes})
	}
	var seg []int
	var acc float64
	for pos, e := range s.run {
		seg = append(seg, e)
		acc += cost[pos]
		if acc >= total/24 || pos == len(s.run)-1 {
			s.segments = append(s.segments, seg)
			seg, acc = nil, 0
		}
	}
	return s, nil
}

// inputs are the names node e reads when it runs: those of the node it
// absorbed, for a fused pooling, and the other term too for a fused sum.
func (s *schedule) inputs(g *Graph, e int) []string {
	if p, ok := s.absorbed[e]; ok {
		if r, ok := s.residual[e]; ok {
			return append(append([]string(nil), g.Nodes[p].Inputs...), r)
		}
		return g.Nodes[p].Inputs
	}
	return g.Nodes[e].Inputs
}

// inShapes are the input shapes of node e (as its op sees them, not
// those of an absorbed node).
func (s *schedule) inShapes(g *Graph, idx map[string]int, e int) []layers.Shape {
	var out []layers.Shape
	for _, name := range g.Nodes[e].Inputs {
		if name == Input {
			out = append(out, s.in)
		} else {
			out = append(out, s.shapes[idx[name]])
		}
	}
	return out
}

func (s *schedule) flops(g *Graph, idx map[string]int, e int) float64 {
	f := layers.FLOPs(g.Nodes[e].Op, s.inShapes(g, idx, e), s.shapes[e])
	if math.IsNaN(f) || f < 0 {
		return 0
	}
	return f
}

// soleChain reports whether the nodes from r back to p (r itself, the
// fused ReLUs or views between, and p), each reading the one before, have
// one reader each and none is requested: nothing but the node reading r
// sees p's output, so p's output may never exist.
func (s *schedule) soleChain(g *Graph, idx map[string]int, r, p int, readers [][]int, requested map[int]bool) bool {
	for {
		if requested[r] || len(readers[r]) != 1 {
			return false
		}
		if r == p {
			return true
		}
		in := g.Nodes[r].Inputs
		if len(in) != 1 || in[0] == Input {
			return false
		}
		r = idx[in[0]]
	}
}

// label names what node e runs: its name, or "conv+pool" for a fused
// pooling.
func (s *schedule) label(g *Graph, e int) string {
	if p, ok := s.absorbed[e]; ok {
		return g.Nodes[p].Name + "+" + g.Nodes[e].Name
	}
	return g.Nodes[e].Name
}

// featureShape of a kept name.
func (s *schedule) featureShape(node int) []int { return featureShape(s.shapes[node], s.vec[node]) }
