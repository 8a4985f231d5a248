package heads

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/internal/testdev"
	"github.com/vkvgg/vkvgg/layers/layertest"
	"github.com/vkvgg/vkvgg/models"
)

// shapes makes n images of s x s: a textured background (class 0) with a
// red square (class 1) and a blue disc (class 2) at random places, and
// their masks; the square's border pixels are IgnoreLabel.
func shapes(n, s int, seed uint64) ([]float32, []uint8) {
	rng := rand.New(rand.NewPCG(seed, 3))
	img := make([]float32, n*s*s*3)
	mask := make([]uint8, n*s*s)
	for i := range n {
		sq := [3]int{rng.IntN(s / 2), rng.IntN(s / 2), s/4 + rng.IntN(s/4)}
		dc := [3]int{s/4 + rng.IntN(s/2), s/4 + rng.IntN(s/2), s/8 + rng.IntN(s/8)}
		for y := range s {
			for x := range s {
				p := (i*s+y)*s + x
				g := 0.3 + 0.4*rng.Float64() // texture
				r, gr, b := g, g, g
				lab := uint8(0)
				if dy, dx := y-dc[0], x-dc[1]; dy*dy+dx*dx <= dc[2]*dc[2] {
					r, gr, b, lab = 0.1, 0.2, 0.9, 2
				}
				if y >= sq[0] && y < sq[0]+sq[2] && x >= sq[1] && x < sq[1]+sq[2] {
					r, gr, b, lab = 0.9, 0.1, 0.1, 1
					if y == sq[0] || x == sq[1] {
						lab = IgnoreLabel
					}
				}
				img[p*3], img[p*3+1], img[p*3+2] = float32(r), float32(gr), float32(b)
				mask[p] = lab
			}
		}
	}
	return img, mask
}

// TestFCNBeatsBaseline trains an FCN head on a conv map of a (random,
// thinned) VGG16 over generated shapes: its validation mean IoU must
// clearly beat painting everything background. The head attached to the
// network gives the same scores on the CPU reference and on the device.
func TestFCNBeatsBaseline(t *testing.T) {
	const n, s, layer = 40, 64, "features.16"
	pix, masks := shapes(n, s, 1)
	net, err := models.Load("../testdata/tv/vgg16.pth", models.Options{Device: models.DeviceCPU})
	if err != nil {
		t.Fatal(err)
	}
	res, err := net.Run(context.Background(), graph.Batch{N: n, H: s, W: s, Data: pix}, layer)
	net.Close()
	if err != nil {
		t.Fatal(err)
	}
	f, _ := res.Feature(layer)
	d := &SegData{X: f.Data, N: n, H: f.Shape[1], W: f.Shape[2], C: f.Shape[3], Masks: masks, S: s, K: 3, Labels: []string{"background", "square", "disc"}}
	var train, val []int
	for i := range n {
		if i%4 == 0 {
			val = append(val, i)
		} else {
			train = append(train, i)
		}
	}
	r, err := TrainFCN(d, train, val, Config{Epochs: 60, LR: 0.02, Batch: 6, Patience: 10, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("mean IoU %.3f (per class %.3f), pixel accuracy %.3f, all-background baseline %.3f; best epoch %d of %d",
		r.MeanIoU, r.IoU, r.PixAcc, r.BaselineMeanIoU, r.Best, len(r.History))
	if r.MeanIoU < r.BaselineMeanIoU+0.25 {
		t.Errorf("mean IoU %.3f does not clearly beat the baseline's %.3f", r.MeanIoU, r.BaselineMeanIoU)
	}

	// The head on the network, at another size than it was trained at.
	h := r.Head
	h.Network, h.Layer, h.Pooling = "vgg16 (torchvision)", layer, "none"
	small, _ := shapes(2, 48, 9)
	var probs [][]float32
	for _, device := range []string{models.DeviceCPU, testdev.DeviceName()} {
		opts := models.Options{Device: device, Extend: h.Attach}
		if device != models.DeviceCPU {
			testdev.Open(t)
			opts.Kernels = testdev.Kernels(t)
		}
		net, err := models.Load("../testdata/tv/vgg16.pth", opts)
		if err != nil {
			t.Fatal(err)
		}
		out, err := net.Run(context.Background(), graph.Batch{N: 2, H: 48, W: 48, Data: small}, "head.prob")
		net.Close()
		if err != nil {
			t.Fatal(err)
		}
		p, _ := out.Feature("head.prob")
		if want := []int{2, 48, 48, 3}; p.Shape[1] != 48 || p.Shape[3] != 3 {
			t.Fatalf("head.prob shape %v, want %v", p.Shape, want)
		}
		probs = append(probs, p.Data)
	}
	if e := layertest.NormErr(probs[1], probs[0]); !(e < 1e-4) {
		t.Errorf("device against CPU: normalised error %.3g", e)
	}
}
