package layers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/vkvgg/vkvgg/gpu"
)

// EnvWinograd chooses the algorithm of 3x3 stride-1 convolutions whose
// channel counts are multiples of 4: "on" (Winograd F(2x2,3x3) wherever
// it applies), "off" (direct), or unset/"auto": each layer and input
// shape is timed both ways once per device, the faster is kept, and the
// choices are saved beside the device's pipeline cache.
const EnvWinograd = "VKVGG_WINOGRAD"

// winogradMode reads EnvWinograd.
func winogradMode() string {
	switch m := os.Getenv(EnvWinograd); m {
	case "on", "off":
		return m
	}
	return "auto"
}

// winoScratchFloats (a variable so that tests can make it small) is the size of each of the two scratch buffers (the
// transformed input V and the products M) the kit shares between its
// Winograd layers; larger layers go through them in chunks of tiles.
var winoScratchFloats = 4 << 20

// winogradWeights is the weight transform of F(2x2,3x3), done once at
// upload in float64: U[xi, ci, co] = (G g G^T)[xi/4][xi%4] for the 3x3
// kernel g of input channel ci and output channel co (weights HWIO).
func winogradWeights(w []float32, cin, cout int) []float32 {
	g := [4][3]float64{{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}}
	u := make([]float32, 16*cin*cout)
	for ci := range cin {
		for co := range cout {
			var k [3][3]float64
			for ky := range 3 {
				for kx := range 3 {
					k[ky][kx] = float64(w[((ky*3+kx)*cin+ci)*cout+co])
				}
			}
			var gk [4][3]float64 // G k
			for r := range 4 {
				for c := range 3 {
					for j := range 3 {
						gk[r][c] += g[r][j] * k[j][c]
					}
				}
			}
			for r := range 4 {
				for c := range 4 {
					s := 0.0 // (G k G^T)[r][c]
					for j := range 3 {
						s += gk[r][j] * g[c][j]
					}
					u[((r*4+c)*cin+ci)*cout+co] = float32(s)
				}
			}
		}
	}
	return u
}

// winogradFits reports whether a layer of cin -> cout channels can take
// the Winograd kernels on the kit's device (vec4 access, U in one texel
// binding).
func (k *Kit) winogradFits(cin, cout int) bool {
	return cin%4 == 0 && cout%4 == 0 && 16*cin*cout <= k.maxTexelWindow() && k.align()%16 == 0
}

// winoScratch returns the kit's two Winograd scratch buffers.
func (k *Kit) winoScratch() (v, m *gpu.Buffer, err error) {
	if k.winoV == nil {
		if k.winoV, err = k.dev.NewBuffer(int64(winoScratchFloats) * 4); err != nil {
			return nil, nil, err
		}
		if k.winoM, err = k.dev.NewBuffer(int64(winoScratchFloats) * 4); err != nil {
			k.winoV.Close()
			k.winoV = nil
			return nil, nil, err
		}
	}
	return k.winoV, k.winoM, nil
}

// recordWinograd records the convolution as Winograd F(2x2,3x3): per
// chunk of tiles, the input transform into V, the 16 products into M and
// the output transform into out.
func (c *Conv3x3) recordWinograd(s *gpu.Sequence, in, out Tensor, relu bool) error {
	const what = "conv3x3 (winograd)"
	k := c.kit
	v, m, err := k.winoScratch()
	if err != nil {
		return err
	}
	is := in.Shape
	cin4, cout4 := c.Cin/4, c.Cout/4
	th, tw := (is.H+1)/2, (is.W+1)/2
	perImage := th * tw
	lim := min(k.maxWindow(), k.maxTexelWindow(), winoScratchFloats)
	maxTiles := lim / (16 * max(c.Cin, c.Cout))
	if maxTiles < 1 {
		return fmt.Errorf("layers: %s: %d -> %d channels do not fit the scratch buffers", what, c.Cin, c.Cout)
	}
	chunks, err := k.batchChunks(what, is.N, []int{is.H * is.W * c.Cin, is.H * is.W * c.Cout}, is.N, min(k.maxWindow(), k.maxTexelWindow()))
	if err != nil {
		return err
	}
	inK, err := k.kernelTexels("wino_in", 2, 0b1, 7)
	if err != nil {
		return err
	}
	wg, tm, tn4 := 64, 4, 1 // GPUs: many small invocations
	if k.conv.Register {
		tn := max(4, min(k.conv.TN, c.Cout/k.conv.WG/4*4))
		wg, tm, tn4 = max(1, min(k.conv.WG, (c.Cout+tn-1)/tn)), k.conv.TM, tn/4
	}
	gemmK, err := k.kernelTexels("wino_gemm", 3, 0b11, 3, uint32(wg), uint32(tm), uint32(tn4))
	if err != nil {
		return err
	}
	outK, err := k.kernelTexels("wino_out", 3, 0b1, 8)
	if err != nil {
		return err
	}
	flag := uint32(0)
	if relu {
		flag = 1
	}
	hw := is.H * is.W
	for _, ch := range chunks {
		n := ch[1] - ch[0]
		iv, ib := k.window(in.Buf, in.Off+ch[0]*hw*c.Cin, n*hw*c.Cin)
		ov, ob := k.window(out.Buf, out.Off+ch[0]*hw*c.Cout, n*hw*c.Cout)
		tiles := n * perImage
		for t0 := 0; t0 < tiles; t0 += maxTiles {
			tc := min(maxTiles, tiles-t0)
			vv, mv := v.Floats(0, 16*tc*c.Cin), m.Floats(0, 16*tc*c.Cout)
			g, err := grid(tc*cin4, 64)
			if err != nil {
				return err
			}
			if err := s.Dispatch(inK, g, []uint32{uint32(n), uint32(is.H), uint32(is.W), uint32(c.Cin), ib, uint32(t0), uint32(tc)}, gpu.Texels(iv), gpu.W(vv)); err != nil {
				return err
			}
			gg := [3]int{(tc + tm - 1) / tm, (cout4 + tn4*wg - 1) / (tn4 * wg), 16}
			if err := s.Dispatch(gemmK, gg, []uint32{uint32(tc), uint32(c.Cin), uint32(c.Cout)}, gpu.Texels(vv), gpu.Texels(c.u.All()), gpu.W(mv)); err != nil {
				return err
			}
			if g, err = grid(tc*cout4, 64); err != nil {
				return err
			}
			if err := s.Dispatch(outK, g, []uint32{uint32(n), uint32(is.H), uint32(is.W), uint32(c.Cout), flag, ob, uint32(t0), uint32(tc)}, gpu.Texels(mv), gpu.R(c.b.All()), gpu.W(ov)); err != nil {
				return err
			}
		}
	}
	return nil
}

// useWinograd decides the algorithm of one recording: by EnvWinograd,
// or by timing both once for this layer and input shape (auto).
func (c *Conv3x3) useWinograd(in, out Tensor, relu bool) (bool, error) {
	k := c.kit
	if c.u == nil || in.Off%4 != 0 || out.Off%4 != 0 {
		return false, nil
	}
	if k.wino != "auto" {
		return k.wino == "on", nil
	}
	is := in.Shape
	family := "gpu"
	if k.conv.Register {
		family = "cpu"
	}
	key := fmt.Sprintf("conv3x3 %s-kernels %dx%dx%d %d->%d", family, is.N, is.H, is.W, c.Cin, c.Cout)
	if v, ok := k.tuned[key]; ok {
		return v, nil
	}
	direct, err := k.timeRecording(func(s *gpu.Sequence) error { return c.recordDirect(s, in, out, relu) })
	if err != nil {
		return false, err
	}
	wino, err := k.timeRecording(func(s *gpu.Sequence) error { return c.recordWinograd(s, in, out, relu) })
	if err != nil {
		return false, err
	}
	k.tuned[key] = wino < direct
	k.saveTuning()
	return k.tuned[key], nil
}

// timeRecording runs a recording once (compiling its pipelines), then
// twice more, and returns the faster of the two.
func (k *Kit) timeRecording(record func(*gpu.Sequence) error) (time.Duration, error) {
	seq, err := k.dev.NewSequence(gpu.SequenceOptions{})
	if err != nil {
		return 0, err
	}
	defer seq.Close()
	if err := record(seq); err != nil {
		return 0, err
	}
	if err := seq.Submit(); err != nil {
		return 0, err
	}
	best := time.Duration(1<<63 - 1)
	for range 2 {
		start := time.Now()
		if err := seq.Submit(); err != nil {
			return 0, err
		}
		best = min(best, time.Since(start))
	}
	return best, nil
}

// loadTuning reads the saved choices of the kit's device, if any.
func (k *Kit) loadTuning() {
	if k.tuneFile == "" {
		return
	}
	b, err := os.ReadFile(k.tuneFile)
	if err != nil || len(b) > 1<<20 {
		return
	}
	var saved map[string]bool
	if json.Unmarshal(b, &saved) == nil { // a corrupt file is ignored and rewritten
		for key, v := range saved {
			k.tuned[key] = v
		}
	}
}

// saveTuning writes the choices beside the pipeline cache (temporary
// file and rename, so that two processes never leave a torn file).
func (k *Kit) saveTuning() {
	if k.tuneFile == "" {
		return
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "\t")
	if enc.Encode(k.tuned) != nil {
		return
	}
	b := buf.Bytes()
	f, err := os.CreateTemp(filepath.Dir(k.tuneFile), ".tuning-*")
	if err != nil {
		return
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil && cerr == nil {
		if os.Rename(f.Name(), k.tuneFile) == nil {
			return
		}
	}
	os.Remove(f.Name())
}

// Tuning returns the kit's Winograd choices (true: Winograd is faster),
// keyed by layer and input shape.
func (k *Kit) Tuning() map[string]bool {
	out := make(map[string]bool, len(k.tuned))
	for key, v := range k.tuned {
		out[key] = v
	}
	return out
}
