package layers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/shaders"
)

// The algorithms of a 3x3 stride-1 convolution.
const (
	algoDirect = "direct"
	algoF2     = "f2" // Winograd F(2x2,3x3): 4x4 input tiles, 2x2 outputs
	algoF4     = "f4" // Winograd F(4x4,3x3): 6x6 input tiles, 4x4 outputs
)

// winoTile is the input tile side A of an algorithm (A*A products per
// tile) and its output tile side.
func winoTile(algo string) (a, m int) {
	if algo == algoF4 {
		return 6, 4
	}
	return 4, 2
}

// winoScratchSize is the size in floats of each of the two scratch
// buffers (the transformed input V and the products M) the kit shares
// between its Winograd layers; larger layers go through them in chunks
// of tiles, three dispatches per chunk, each waiting for the one before.
// Each buffer takes 1/64 of the device's memory, between 16 and 256 MB,
// within one binding: VGG16 at batch 32 makes 184 chunks through 16 MB
// and 17 through 256 MB, and a GPU fills better with fewer, larger
// dispatches. On lavapipe (2 GiB: 32 MB) VGG16 at batch 8 ran 5% faster
// than through 16 MB, batch 1 the same.
func (k *Kit) winoScratchSize() int {
	n := int(min(max(k.info.DeviceLocalBytes/64/4, 4<<20), 64<<20))
	if k.scratchFloats > 0 {
		n = k.scratchFloats
	}
	return min(n, k.maxFloats(), k.maxTexelWindow())
}

// poolScratchSize is the size in floats of the scratch a direct
// convolution writes before the pooling fused with it (one per layer,
// which the plan does not count): 16 MB.
func (k *Kit) poolScratchSize() int {
	if k.scratchFloats > 0 {
		return k.scratchFloats
	}
	return 4 << 20
}

// winoWeights returns the layer's transformed weights for algo, making
// them on the device (wino_weights.comp) in a sequence of their own the
// first time.
func (c *Conv3x3) winoWeights(algo string) (*gpu.Buffer, error) {
	if u := c.u[algo]; u != nil {
		return u, nil
	}
	a, _ := winoTile(algo)
	k := c.kit
	u, err := k.dev.NewBuffer(k.tensorBytes(a * a * c.Cin * c.Cout))
	if err != nil {
		return nil, err
	}
	kern, err := k.kernel("wino_weights", 2, 2, uint32(a))
	if err == nil {
		err = func() error {
			seq, err := k.dev.NewSequence(gpu.SequenceOptions{})
			if err != nil {
				return err
			}
			defer seq.Close()
			g, err := grid(c.Cin*c.Cout, 64)
			if err != nil {
				return err
			}
			if err := seq.Dispatch(kern, g, []uint32{uint32(c.Cin), uint32(c.Cout)}, gpu.R(c.w.All()), gpu.W(u.All())); err != nil {
				return err
			}
			return seq.Submit()
		}()
	}
	if err != nil {
		u.Close()
		return nil, err
	}
	if c.u == nil {
		c.u = map[string]*gpu.Buffer{}
	}
	c.u[algo] = u
	k.held.Add(u.Size())
	return u, nil
}

// winogradFits reports whether a layer of cin -> cout channels can take
// the Winograd kernels of algo on the kit's device (vec4 access, U in
// one texel binding).
func (k *Kit) winogradFits(algo string, cin, cout int) bool {
	a, _ := winoTile(algo)
	return cin%4 == 0 && cout%4 == 0 && a*a*cin*cout <= min(k.maxTexelWindow(), k.maxWindow()) && k.align()%16 == 0 &&
		a*a*max(cin, cout) <= k.winoScratchSize() // a tile at a time at least (fp32 scratch)
}

// winogradImageFits reports whether one image of the input and of the
// output fits a texel binding (the Winograd kernels read the input as
// texels; the direct GPU kernel needs only a storage binding).
func (k *Kit) winogradImageFits(in, out Shape) bool {
	lim := min(k.maxWindow(), k.maxTexelWindow())
	return in.Image() <= lim && out.Image() <= lim
}

// winoScratch returns the kit's two Winograd scratch buffers.
func (k *Kit) winoScratch() (v, m *gpu.Buffer, err error) {
	if k.winoV == nil {
		n := int64(k.winoScratchSize()) * 4
		if k.winoV, err = k.dev.NewBuffer(n); err != nil {
			return nil, nil, err
		}
		if k.winoM, err = k.dev.NewBuffer(n); err != nil {
			k.winoV.Close()
			k.winoV = nil
			return nil, nil, err
		}
		k.held.Add(k.winoV.Size() + k.winoM.Size())
	}
	return k.winoV, k.winoM, nil
}

// recordWinograd records the convolution as Winograd F(2x2,3x3) or
// F(4x4,3x3): per chunk of tiles, the input transform into V, the A*A
// products into M and the output transform into out. With pooled, a 2x2/2
// max pooling (windows from row and column 0) is applied by the output
// transform and out has the pooled shape.
func (c *Conv3x3) recordWinograd(s *gpu.Sequence, in, out Tensor, relu bool, algo string, pooled bool) error {
	what := "conv3x3 (winograd " + algo + ")"
	k := c.kit
	u, err := c.winoWeights(algo)
	if err != nil {
		return err
	}
	v, m, err := k.winoScratch()
	if err != nil {
		return err
	}
	is := in.Shape
	a, mt := winoTile(algo)
	aa := a * a
	cin4, cout4 := c.Cin/4, c.Cout/4
	th, tw := (is.H+mt-1)/mt, (is.W+mt-1)/mt
	perImage := th * tw
	lim := k.winoScratchSize() // the fp32 scratch
	maxTiles := lim / (aa * max(c.Cin, c.Cout))
	if maxTiles < 1 {
		return fmt.Errorf("layers: %s: %d -> %d channels do not fit the scratch buffers", what, c.Cin, c.Cout)
	}
	chunks, err := k.batchChunks(what, is.N, []int{is.H * is.W * c.Cin, out.Shape.Image()}, is.N, min(k.maxWindow(), k.maxTexelWindow()))
	if err != nil {
		return err
	}
	prefix := "wino"
	if algo == algoF4 {
		prefix = "wino4"
	}
	// F(4x4,3x3)'s transforms take several channel groups per invocation
	// on CPU devices.
	var inSpec []uint32
	cgIn, cgOut := 1, 1
	if algo == algoF4 {
		cgIn, cgOut = k.winoGroups(cin4), k.winoGroups(cout4)
		inSpec = []uint32{uint32(cgIn)}
	}
	inK, err := k.kernelTexels(prefix+"_in", 2, 0b1, 7, inSpec...)
	if err != nil {
		return err
	}
	gemm, err := c.winoGEMM(aa, min(maxTiles, is.N*perImage), u.All(), v, m)
	if err != nil {
		return err
	}
	pool := uint32(0)
	if pooled {
		pool = 1
	}
	outSpec := []uint32{pool}
	if algo == algoF4 {
		outSpec = append(outSpec, uint32(cgOut))
	}
	outK, err := k.kernelTexels(prefix+"_out", 3, 0b1, 10, outSpec...)
	if err != nil {
		return err
	}
	flag := uint32(0)
	if relu {
		flag = 1
	}
	hw := is.H * is.W
	os := out.Shape
	ohw := os.H * os.W
	for _, ch := range chunks {
		n := ch[1] - ch[0]
		iv, ib := k.window(in.Buf, in.Off+ch[0]*hw*c.Cin, n*hw*c.Cin)
		ov, ob := k.window(out.Buf, out.Off+ch[0]*ohw*c.Cout, n*ohw*c.Cout)
		tiles := n * perImage
		for t0 := 0; t0 < tiles; t0 += maxTiles {
			tc := min(maxTiles, tiles-t0)
			vv, mv := v.Floats(0, aa*tc*c.Cin), m.Floats(0, aa*tc*c.Cout)
			g, err := grid(tc*cin4/cgIn, 64)
			if err != nil {
				return err
			}
			if err := s.Dispatch(inK, g, []uint32{uint32(n), uint32(is.H), uint32(is.W), uint32(c.Cin), ib, uint32(t0), uint32(tc)}, k.texels(iv), gpu.W(vv)); err != nil {
				return err
			}
			if err := gemm(s, vv, mv, tc); err != nil {
				return err
			}
			if g, err = grid(tc*cout4/cgOut, 64); err != nil {
				return err
			}
			if err := s.Dispatch(outK, g, []uint32{uint32(n), uint32(is.H), uint32(is.W), uint32(c.Cout), flag, ob, uint32(t0), uint32(tc), uint32(os.H), uint32(os.W)}, gpu.Texels(mv), gpu.R(c.b.All()), gpu.W(ov)); err != nil {
				return err
			}
		}
	}
	return nil
}

// The kernels of a Winograd convolution's A*A products (the batched GEMM):
// the register-blocked kernel (on GPUs, 4 tiles x 4 channels per
// invocation), and on GPUs the shared-memory tiled one with the kit's
// tiles or smallTiles.
const (
	gemmRegister   = "register"
	gemmTiled      = "tiled"
	gemmTiledSmall = "tiled-small"
)

// winoGEMMFunc records the A*A products of tc tiles from vv into mv.
type winoGEMMFunc func(s *gpu.Sequence, vv, mv gpu.View, tc int) error

// winoGEMM returns the recorder of the layer's A*A products, in chunks of
// up to tiles tiles, with transformed weights u: on CPU devices the
// register-blocked kernel (rowsKernel); on GPUs the fastest of it and
// the tiled kernels, timed once per device, shape and precision on the
// scratch buffers v and m and saved with the other choices (or the kit's
// override).
func (c *Conv3x3) winoGEMM(aa, tiles int, u gpu.View, v, m *gpu.Buffer) (winoGEMMFunc, error) {
	k := c.kit
	wg, tm, tn4 := 64, 4, 1 // the register kernel on GPUs: many small invocations
	if k.conv.Register {
		var tn int
		wg, tn = k.conv.narrow(c.Cout)
		tm, tn4 = k.conv.TM, tn/4
	}
	build := func(mode string) (winoGEMMFunc, error) {
		if mode == gemmRegister {
			kern, err := k.kernelTexels(k.rowsKernel("wino_gemm", wg, tm), 3, 0b11, 3, uint32(wg), uint32(tm), uint32(tn4))
			if err != nil {
				return nil, err
			}
			return func(s *gpu.Sequence, vv, mv gpu.View, tc int) error {
				g := [3]int{(tc + tm - 1) / tm, (c.Cout/4 + tn4*wg - 1) / (tn4 * wg), aa}
				return s.Dispatch(kern, g, []uint32{uint32(tc), uint32(c.Cin), uint32(c.Cout)}, gpu.Texels(vv), k.texels(u), gpu.W(mv))
			}, nil
		}
		cfg := k.conv
		if mode == gemmTiledSmall {
			cfg = smallTiles
		}
		kern, err := k.kernelTexels("wino_gemm_tiled", 3, 0b11, 3, uint32(cfg.workgroup()), uint32(cfg.BM), uint32(cfg.BN), uint32(cfg.BK), uint32(cfg.TM), uint32(cfg.TN))
		if err != nil {
			return nil, err
		}
		return func(s *gpu.Sequence, vv, mv gpu.View, tc int) error {
			g := [3]int{(c.Cout + cfg.BN - 1) / cfg.BN, (tc + cfg.BM - 1) / cfg.BM, aa}
			return s.Dispatch(kern, g, []uint32{uint32(tc), uint32(c.Cin), uint32(c.Cout)}, gpu.Texels(vv), k.texels(u), gpu.W(mv))
		}, nil
	}
	modes := []string{gemmRegister}
	if !k.conv.Register && k.conv.winoTiles() {
		modes = append(modes, gemmTiled)
		if !k.conv.sameTiles(smallTiles) && smallTiles.Validate(k.info) == nil {
			modes = append(modes, gemmTiledSmall)
		}
	}
	mode := modes[0]
	switch {
	case k.gemmMode == gemmTiledSmall && slices.Contains(modes, gemmTiled) && smallTiles.Validate(k.info) == nil:
		mode = k.gemmMode // forced also where the kit's own tiles are the small ones
	case k.gemmMode != "":
		if !slices.Contains(modes, k.gemmMode) {
			return nil, fmt.Errorf("layers: winograd: GEMM kernel %q is not one of %v here", k.gemmMode, modes)
		}
		mode = k.gemmMode
	case len(modes) > 1:
		key := fmt.Sprintf("wino_gemm gpu-kernels %d x %d tiles %d->%d, tiles %dx%dx%d/%dx%d", aa, tiles, c.Cin, c.Cout, k.conv.BM, k.conv.BN, k.conv.BK, k.conv.TM, k.conv.TN)
		vv, mv := v.Floats(0, aa*tiles*c.Cin), m.Floats(0, aa*tiles*c.Cout)
		var err error
		mode, _, err = k.choice(key, modes, func(s *gpu.Sequence, i int) error {
			f, err := build(modes[i])
			if err != nil {
				return err
			}
			return f(s, vv, mv, tiles)
		})
		if err != nil {
			return nil, err
		}
	}
	return build(mode)
}

// rowsKernel is the variant of a register kernel sharing rows through
// rows.glsl to use with workgroups of wg invocations that share tm rows:
// name_sg, whose invocations each fetch a wg-th of the rows and shuffle
// them to the others, on CPU devices that shuffle in compute shaders,
// where wg divides tm and fits in a subgroup (and the kit's subgroups are
// on); name otherwise. Vulkan does not promise that a workgroup no larger
// than a subgroup is one subgroup numbered from 0, which the variant
// needs; a CPU device runs such a workgroup as one SIMD vector, and the
// GPUs' kernels share rows through shared memory anyway.
func (k *Kit) rowsKernel(name string, wg, tm int) string {
	if !k.noSubgroups && k.info.Type == gpu.CPU && k.info.SubgroupShuffle && wg >= 2 && wg <= int(k.info.SubgroupSize) && tm%wg == 0 {
		return name + "_sg"
	}
	return name
}

// winoTiles reports whether a shared-memory tiling suits the Winograd
// GEMM, which stages its blocks as vec4 texels.
func (c ConvConfig) winoTiles() bool { return c.BK%4 == 0 && c.BN%4 == 0 }

// algorithm decides the algorithm of one recording: by
// KernelOptions.Winograd, or by timing the candidates once for this
// layer and input shape (auto).
// Transformed weights the choice does not need are freed.
func (c *Conv3x3) algorithm(in, out Tensor, relu bool) (string, error) {
	return c.choose("conv3x3", in, out, func(s *gpu.Sequence, algo string) error {
		if algo == algoDirect {
			return c.recordDirect(s, in, out, relu)
		}
		return c.recordWinograd(s, in, out, relu, algo, false)
	})
}

// choose picks among the direct convolution and the Winograd algorithms
// that fit, timing each recording of record once per kind of layer
// (what), shape and kernel family in auto mode.
func (c *Conv3x3) choose(what string, in, out Tensor, record func(s *gpu.Sequence, algo string) error) (string, error) {
	k := c.kit
	if in.Off%4 != 0 || out.Off%4 != 0 {
		return algoDirect, nil
	}
	var candidates []string
	for _, algo := range []string{algoF2, algoF4} {
		if (k.wino == "auto" || k.wino == algo) && k.winogradFits(algo, c.Cin, c.Cout) && k.winogradImageFits(in.Shape, out.Shape) {
			candidates = append(candidates, algo)
		}
	}
	if len(candidates) == 0 {
		return algoDirect, nil
	}
	if c.keep == nil {
		c.keep = map[string]bool{}
	}
	if k.wino != "auto" {
		c.keep[candidates[0]] = true
		return candidates[0], nil
	}
	is := in.Shape
	family := "gpu"
	if k.conv.Register {
		family = "cpu"
	}
	key := fmt.Sprintf("%s %s-kernels %dx%dx%d %d->%d", what, family, is.N, is.H, is.W, c.Cin, c.Cout)
	algos := append([]string{algoDirect}, candidates...)
	best, timed, err := k.choice(key, algos, func(s *gpu.Sequence, i int) error { return record(s, algos[i]) })
	if err != nil {
		return "", err
	}
	if !timed {
		c.keep[best] = true // a later tuning must not free weights this shape's plans use
		return best, nil
	}
	for algo, u := range c.u {
		if algo != best && !c.keep[algo] {
			k.held.Add(-u.Size())
			u.Close()
			delete(c.u, algo)
		}
	}
	c.keep[best] = true
	return best, nil
}

// recordPooled records the convolution followed by the 2x2/2 max pooling
// p: Winograd with the pooling in its output transform, or the direct
// convolution into scratch (a chunk of images at a time) and the pooling
// from there, whichever is chosen.
func (c *Conv3x3) recordPooled(s *gpu.Sequence, in, out Tensor, relu bool, p *Pool, pre **scratch) error {
	direct := func(s *gpu.Sequence) error {
		if *pre == nil {
			*pre = &scratch{kit: c.kit}
		}
		is := in.Shape
		full := Shape{N: 1, H: is.H, W: is.W, C: c.Cout}
		if !c.directFits(is, full) {
			return c.recordPooledBands(s, in, out, relu, p, *pre)
		}
		// Images a few at a time: the scratch is memory the plan does
		// not count.
		per := max(1, min(is.N, c.kit.maxWindow()/full.Len(), c.kit.poolScratchSize()/full.Len()))
		buf, err := (*pre).get(per * full.Len())
		if err != nil {
			return err
		}
		pk := &poolKernel{c.kit, p}
		for i0 := 0; i0 < is.N; i0 += per {
			n := min(per, is.N-i0)
			full.N = n
			xi := Tensor{Buf: in.Buf, Off: in.Off + i0*is.Image(), Shape: Shape{N: n, H: is.H, W: is.W, C: is.C}}
			yi := Tensor{Buf: buf, Shape: full}
			oi := Tensor{Buf: out.Buf, Off: out.Off + i0*out.Shape.Image(), Shape: Shape{N: n, H: out.Shape.H, W: out.Shape.W, C: out.Shape.C}}
			if err := c.recordDirect(s, xi, yi, relu); err != nil {
				return err
			}
			if err := pk.Record(s, []Tensor{yi}, oi); err != nil {
				return err
			}
		}
		return nil
	}
	algo, err := c.choose("conv3x3+maxpool2", in, out, func(s *gpu.Sequence, algo string) error {
		if algo == algoDirect {
			return direct(s)
		}
		return c.recordWinograd(s, in, out, relu, algo, true)
	})
	if err != nil {
		return err
	}
	if algo == algoDirect {
		c.preUsed = true
		return direct(s)
	}
	if !c.preUsed && *pre != nil { // only the tuning used it
		(*pre).close()
		*pre = nil
	}
	return c.recordWinograd(s, in, out, relu, algo, true)
}

// recordPooledBands is recordPooled's direct path for an image over the
// direct kernel's bindings (directFits): bands of the pooling's
// output rows, each band's convolution rows computed by the general
// kernel (from the input rows they read) into the scratch and pooled from
// there, so that the convolution's whole output never exists. The 2x2/2
// windows start at row 0 (FusesPool), so pooled rows [p0, p1) read
// convolution rows [2*p0, 2*p1) and a band pools as a map of its own.
func (c *Conv3x3) recordPooledBands(s *gpu.Sequence, in, out Tensor, relu bool, p *Pool, pre *scratch) error {
	const what = "conv3x3+maxpool2"
	k := c.kit
	g := c.general()
	is, os := in.Shape, out.Shape
	cfg, lim, pix, err := g.config(what, in, Tensor{}, nil) // the output is the scratch's, at 0
	if err != nil {
		return err
	}
	convRow, inRow := is.W*c.Cout, is.W*is.C
	// r pooled rows: 2r convolution rows in the scratch and one binding,
	// 2r+2 input rows in one binding, 2r rows in one dispatch.
	r := min(os.H, min(lim, k.poolScratchSize())/(2*convRow), (lim/inRow-2)/2, 65535*pix/(2*is.W))
	if r < 1 {
		return fmt.Errorf("layers: %s: two rows of %dx%d are too large for the scratch and bindings of this device", what, is.W, c.Cout)
	}
	buf, err := pre.get(2 * r * convRow)
	if err != nil {
		return err
	}
	reluFlag := uint32(0)
	if relu {
		reluFlag = 1
	}
	win := rowWindow{kh: 3, sh: 1, top: 1, bottom: 1}
	pk := &poolKernel{k, p}
	for n := 0; n < is.N; n++ {
		for p0 := 0; p0 < os.H; p0 += r {
			p1 := min(os.H, p0+r)
			b, err := win.band(what, n, 2*p0, min(2*p1, is.H), is.H)
			if err != nil {
				return err
			}
			y := Tensor{Buf: buf, Shape: Shape{N: 1, H: b.y1 - b.y0, W: is.W, C: c.Cout}}
			if err := g.recordTiled(s, what, in.rows(n, b.a, b.b), y, reluFlag, nil, cfg, [4]int{b.top, 1, b.bottom, 1}); err != nil {
				return err
			}
			if err := pk.Record(s, []Tensor{y}, out.rows(n, p0, p1)); err != nil {
				return err
			}
		}
	}
	return nil
}

// choice returns the kit's choice for key (the precision, and subgroups
// turned off, are appended to it) among options: the saved one, or else
// the fastest option, timed with record (record(s, i) records option i)
// and saved; timed says which.
func (k *Kit) choice(key string, options []string, record func(s *gpu.Sequence, i int) error) (best string, timed bool, err error) {
	if k.prec != FP32 {
		key += " " + k.prec.String()
	}
	if k.noSubgroups && k.info.SubgroupShuffle {
		key += " no-subgroups" // other kernels: timed apart
	}
	if v, ok := k.tuned[key]; ok && slices.Contains(options, v) {
		k.used[key] = true
		return v, false, nil
	}
	times, err := k.timeCandidates(len(options), record)
	if err != nil {
		return "", false, err
	}
	best = options[fastest(times)]
	k.tuned[key] = best
	k.used[key] = true
	k.tunedTimes[key] = map[string]time.Duration{}
	for i, o := range options {
		k.tunedTimes[key][o] = times[i]
	}
	k.saveErr = k.saveTuning()
	return best, true, nil
}

// timeCandidates times n recordings of the same work (record(s, i) records
// candidate i): each is run once untimed (the driver may compile its
// kernels at their first dispatch: lavapipe does), then timed rounds
// (KernelOptions.TuneRounds, three by default) in which the candidates
// take turns (a burst of noise from other processes then slows one round
// of every candidate, not every round of one), and it returns the fastest time of each. A candidate whose time in
// the first round is more than prunePast times the fastest's sits out the
// rest: it cannot win, and a hopeless kernel (shared memory on a CPU
// device) would otherwise take most of the tuning. The time is the
// device's own where every candidate can be timed with timestamps (from
// the start of the first dispatch to the end of the last, gaps between
// dispatches included): on a fast GPU a layer takes tens of microseconds,
// about what a submission and the host's wake-up add, which would drown
// the difference between the candidates. Otherwise (no timestamps, or a
// candidate of more dispatches than a sequence can time) every candidate
// gets the wall time of its submissions, so the times compare; the first
// round is judged by the same measure.
func (k *Kit) timeCandidates(n int, record func(s *gpu.Sequence, i int) error) ([]time.Duration, error) {
	seqs := make([]*gpu.Sequence, 0, n)
	defer func() {
		for _, s := range seqs {
			s.Close()
		}
	}()
	for i := range n {
		seq, err := k.dev.NewSequence(gpu.SequenceOptions{Timestamps: true})
		if err != nil {
			return nil, err
		}
		seqs = append(seqs, seq)
		if err := record(seq, i); err != nil {
			return nil, err
		}
		if err := seq.Submit(); err != nil {
			return nil, err
		}
	}
	wall := make([]time.Duration, n)
	span := make([]time.Duration, n)
	for i := range n {
		wall[i], span[i] = 1<<63-1, 1<<63-1
	}
	spans := true
	// run submits candidate i once and keeps its fastest times.
	run := func(i int) error {
		start := time.Now()
		if err := seqs[i].Submit(); err != nil {
			return err
		}
		wall[i] = min(wall[i], time.Since(start))
		d, err := seqs[i].Span()
		if errors.Is(err, gpu.ErrUntimed) || (err == nil && d <= 0) {
			spans = false
		} else if err != nil {
			return err
		}
		span[i] = min(span[i], d)
		return nil
	}
	live := make([]int, n) // the candidates still timed
	for i := range live {
		live[i] = i
	}
	for round := range k.rounds {
		for _, i := range live {
			if err := run(i); err != nil {
				return nil, err
			}
		}
		if round == 0 {
			if spans {
				live = contenders(span)
			} else {
				live = contenders(wall)
			}
		}
	}
	if spans {
		return span, nil
	}
	return wall, nil
}

// prunePast is how many times slower than the fastest a candidate may be
// in the tuner's first round to be timed further.
const prunePast = 4

// contenders lists the candidates whose times are within prunePast times
// the fastest.
func contenders(times []time.Duration) []int {
	best := slices.Min(times)
	var live []int
	for i, t := range times {
		if t <= best*prunePast {
			live = append(live, i)
		}
	}
	return live
}

// fastest is the index of the shortest time (the first of equals).
func fastest(ts []time.Duration) int {
	best := 0
	for i, t := range ts {
		if t < ts[best] {
			best = i
		}
	}
	return best
}

// loadTuning reads the saved choices of the kit's device, if any.
func (k *Kit) loadTuning() {
	for key, v := range k.readTuning() {
		k.tuned[key] = v
	}
}

// tuningKernels is the tuning file's entry naming the shaders its choices
// were timed with (shaders.Version).
const tuningKernels = "kernels"

// readTuning returns the choices in the tuning file: none when there is
// no file, or it is corrupt or too large, or its choices were timed with
// other kernels than these (it is then rewritten).
func (k *Kit) readTuning() map[string]string {
	if k.tuneFile == "" {
		return nil
	}
	b, err := os.ReadFile(k.tuneFile)
	if err != nil || len(b) > 1<<20 {
		return nil
	}
	var saved map[string]string
	if json.Unmarshal(b, &saved) != nil || saved[tuningKernels] != shaders.Version() {
		return nil
	}
	delete(saved, tuningKernels)
	return saved
}

// saveTuning writes the choices beside the pipeline cache (temporary
// file and rename, so that two processes never leave a torn file),
// merged with what the file holds now: another kit (another precision,
// another process) may have saved choices since this one read it.
func (k *Kit) saveTuning() error {
	if k.tuneFile == "" {
		return nil
	}
	all := k.readTuning()
	if all == nil {
		all = map[string]string{}
	}
	// Only what this kit timed: a choice it loaded may have been timed
	// again since (vkvgg tune) by another process.
	for key := range k.tunedTimes {
		all[key] = k.tuned[key]
	}
	all[tuningKernels] = shaders.Version()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "\t")
	if err := enc.Encode(all); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(k.tuneFile), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(k.tuneFile), ".tuning-*")
	if err != nil {
		return err
	}
	_, err = f.Write(buf.Bytes())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if err = os.Rename(f.Name(), k.tuneFile); err == nil {
			return nil
		}
	}
	os.Remove(f.Name())
	return err
}

// TuningError is why the kit's last save of its choices failed, or nil
// (a kit without a tuning file saves nothing and fails nothing). Runs go
// on without the file: the next process times again.
func (k *Kit) TuningError() error { return k.saveErr }

// HeldBytes is the device memory the kit's layers made beyond their
// uploaded weights: Winograd weights, scratch buffers. A memory planner
// counts it against the device.
func (k *Kit) HeldBytes() int64 { return k.held.Load() }

// Tuning returns the kit's choices, read from the tuning file or timed,
// keyed by layer, input shape and precision: a 3x3 convolution's
// algorithm ("direct", "f2", "f4") and on GPUs its Winograd GEMM kernel,
// an fc layer's kernel ("storage" on GPUs, "texel", "texel-wide"), and a
// general convolution's tiles on GPUs ("small", "large") or im2col on CPU
// devices ("direct", "im2col"). It must not run while the kit records.
func (k *Kit) Tuning() map[string]string { return maps.Clone(k.tuned) }

// Tuned is one of a kit's choices: the layer, input shape and precision
// it was made for (Key, as Tuning's), the candidate chosen, and the
// candidates' best times where this kit timed them (nil for a choice
// read from the tuning file). A candidate far slower than the fastest in
// the first round was timed in that round only.
type Tuned struct {
	Key    string
	Choice string
	Times  map[string]time.Duration
}

// Tuned lists, by key, the choices the kit's layers made so far: timed
// by this kit, or read from the tuning file. Like Tuning, it must not run
// while the kit records.
func (k *Kit) Tuned() []Tuned {
	var out []Tuned
	for key := range k.used {
		out = append(out, Tuned{Key: key, Choice: k.tuned[key], Times: maps.Clone(k.tunedTimes[key])})
	}
	slices.SortFunc(out, func(a, b Tuned) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// winoGroupsMax is the most channel groups an invocation of the
// F(4x4,3x3) transforms takes on CPU devices: 4 made VGG16's conv1_2,
// conv2_2 and conv3_2 12-20% faster on lavapipe than 1, and 8 or 16 no
// faster than 4 (BenchmarkWinogradGroups; a kit's groupsMax overrides it).
const winoGroupsMax = 4

// winoGroups is the number of groups of four consecutive channels each
// invocation of the F(4x4,3x3) input and output transforms takes, of c4
// groups: with the register kernels (CPU devices), the largest power of
// two up to winoGroupsMax that divides c4, sharing the tile's integer
// divisions (which SIMD CPUs do lane by lane) and reading neighbouring
// texels; one on GPUs, which want many invocations.
func (k *Kit) winoGroups(c4 int) int {
	if !k.conv.Register {
		return 1
	}
	cg := winoGroupsMax
	if k.groupsMax > 0 {
		cg = k.groupsMax
	}
	for c4%cg != 0 {
		cg /= 2
	}
	return cg
}
