package heads

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// IgnoreLabel is the mask value that no loss or metric counts (PASCAL
// VOC's object borders).
const IgnoreLabel = 255

// SegData is a segmentation set: each image's feature map [H,W,C] (one
// size for all) and its mask [S,S] of class ids at the input size.
type SegData struct {
	X          []float32 // N*H*W*C
	N, H, W, C int
	Masks      []uint8 // N*S*S
	S          int
	K          int
	Labels     []string
}

// SegResult is an FCN training run's outcome.
type SegResult struct {
	Head            *Head
	History         []EpochStats // TrainAcc and ValAcc are pixel accuracies
	Best            int
	MeanIoU, PixAcc float64 // validation, at the best epoch
	IoU             []float64
	BaselineMeanIoU float64 // every pixel the most frequent training class
}

func (d *SegData) check() error {
	if d.N < 1 || d.H < 1 || d.W < 1 || d.C < 1 || d.S < 1 || d.K < 2 {
		return fmt.Errorf("heads: segmentation set of %d images, maps %dx%dx%d, masks %d, %d classes", d.N, d.H, d.W, d.C, d.S, d.K)
	}
	if len(d.X) != d.N*d.H*d.W*d.C || len(d.Masks) != d.N*d.S*d.S {
		return errors.New("heads: segmentation set sizes do not match")
	}
	for i, m := range d.Masks {
		if int(m) >= d.K && m != IgnoreLabel {
			return fmt.Errorf("heads: mask %d holds class %d, beyond the %d classes", i/(d.S*d.S), m, d.K)
		}
	}
	return nil
}

// interp is a bilinear resizing matrix from m to n samples, two taps a
// row (PyTorch's align_corners=False rule, as layers.Resize).
type interp struct {
	i0, i1 []int
	f      []float64
}

func newInterp(n, m int) interp {
	t := interp{make([]int, n), make([]int, n), make([]float64, n)}
	for o := range n {
		s := max((float64(o)+0.5)*float64(m)/float64(n)-0.5, 0)
		t.i0[o] = min(int(s), m-1)
		t.i1[o] = min(t.i0[o]+1, m-1)
		t.f[o] = s - float64(t.i0[o])
	}
	return t
}

// TrainFCN trains an FCN-32s head: a 1x1 convolution from the standardised
// feature map to the classes, bilinear upsampling to the mask size, and a
// per-pixel cross-entropy that ignores IgnoreLabel, with Adam (cfg.Batch
// images a step) and early stopping on the validation loss.
func TrainFCN(d *SegData, train, valid []int, cfg Config) (*SegResult, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	if len(train) == 0 || cfg.Epochs < 1 || cfg.LR <= 0 || cfg.Batch < 1 {
		return nil, fmt.Errorf("heads: bad FCN configuration %+v for %d training images", cfg, len(train))
	}
	if cfg.Patience < 1 {
		cfg.Patience = 10
	}
	c, k, hw, s := d.C, d.K, d.H*d.W, d.S
	mean, std := make([]float64, c), make([]float64, c)
	for _, i := range train {
		for p := range hw {
			for j := range c {
				mean[j] += float64(d.X[(i*hw+p)*c+j])
			}
		}
	}
	nt := float64(len(train) * hw)
	for j := range mean {
		mean[j] /= nt
	}
	for _, i := range train {
		for p := range hw {
			for j := range c {
				e := float64(d.X[(i*hw+p)*c+j]) - mean[j]
				std[j] += e * e
			}
		}
	}
	for j := range std {
		std[j] = math.Sqrt(std[j] / nt)
		if std[j] < 1e-6 {
			std[j] = 1
		}
	}
	xs := make([]float64, len(d.X))
	for i := range d.N {
		for p := range hw {
			for j := range c {
				o := (i*hw+p)*c + j
				xs[o] = (float64(d.X[o]) - mean[j]) / std[j]
			}
		}
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xfc4))
	l := newLayer(rng, c, k)
	uy, ux := newInterp(s, d.H), newInterp(s, d.W)

	// forward returns the upsampled scores [s,s,k] of image i.
	forward := func(i int) (lowres, up []float64) {
		lowres = make([]float64, hw*k)
		for p := range hw {
			copy(lowres[p*k:(p+1)*k], l.b)
		}
		gemm(false, false, hw, k, c, xs[i*hw*c:(i+1)*hw*c], l.w, lowres, 1)
		// Along x, then along y.
		ax := make([]float64, d.H*s*k)
		for y := range d.H {
			for X := range s {
				a, b, f := ux.i0[X], ux.i1[X], ux.f[X]
				for q := range k {
					ax[(y*s+X)*k+q] = lowres[(y*d.W+a)*k+q]*(1-f) + lowres[(y*d.W+b)*k+q]*f
				}
			}
		}
		up = make([]float64, s*s*k)
		for Y := range s {
			a, b, f := uy.i0[Y], uy.i1[Y], uy.f[Y]
			for X := range s {
				for q := range k {
					up[(Y*s+X)*k+q] = ax[(a*s+X)*k+q]*(1-f) + ax[(b*s+X)*k+q]*f
				}
			}
		}
		return lowres, up
	}
	// loss turns scores into probabilities in place; it returns the summed
	// loss, correct and counted pixels.
	loss := func(i int, up []float64) (float64, int, int) {
		var sum float64
		correct, n := 0, 0
		mask := d.Masks[i*s*s : (i+1)*s*s]
		for p, lab := range mask {
			row := up[p*k : (p+1)*k]
			arg := softmaxRow(row)
			if lab == IgnoreLabel {
				continue
			}
			n++
			if arg == int(lab) {
				correct++
			}
			sum -= math.Log(max(row[lab], 1e-300))
		}
		return sum, correct, n
	}
	evaluate := func(idx []int) (float64, float64) {
		var sum float64
		correct, n := 0, 0
		for _, i := range idx {
			_, up := forward(i)
			ls, co, cn := loss(i, up)
			sum, correct, n = sum+ls, correct+co, n+cn
		}
		if n == 0 {
			return 0, 0
		}
		return sum / float64(n), float64(correct) / float64(n)
	}
	res := &SegResult{}
	order := append([]int(nil), train...)
	step := 0
	es := newEarlyStop(cfg.Patience)
	var bestW, bestB []float64
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		for b0 := 0; b0 < len(order); b0 += cfg.Batch {
			batch := order[b0:min(len(order), b0+cfg.Batch)]
			clear(l.gw)
			clear(l.gb)
			var grads [][]float64
			total := 0
			for _, i := range batch {
				_, up := forward(i)
				_, _, n := loss(i, up) // up now holds probabilities
				total += n
				grads = append(grads, up)
			}
			if total == 0 {
				continue
			}
			for bi, i := range batch {
				g := grads[bi]
				mask := d.Masks[i*s*s : (i+1)*s*s]
				for p, lab := range mask {
					row := g[p*k : (p+1)*k]
					if lab == IgnoreLabel {
						clear(row)
						continue
					}
					row[lab] -= 1
					for q := range row {
						row[q] /= float64(total)
					}
				}
				// Back through the upsampling: along y, then along x.
				gy := make([]float64, d.H*s*k)
				for Y := range s {
					a, b, f := uy.i0[Y], uy.i1[Y], uy.f[Y]
					for X := range s {
						for q := range k {
							v := g[(Y*s+X)*k+q]
							gy[(a*s+X)*k+q] += v * (1 - f)
							gy[(b*s+X)*k+q] += v * f
						}
					}
				}
				glow := make([]float64, hw*k)
				for y := range d.H {
					for X := range s {
						a, b, f := ux.i0[X], ux.i1[X], ux.f[X]
						for q := range k {
							v := gy[(y*s+X)*k+q]
							glow[(y*d.W+a)*k+q] += v * (1 - f)
							glow[(y*d.W+b)*k+q] += v * f
						}
					}
				}
				gemm(true, false, c, k, hw, xs[i*hw*c:(i+1)*hw*c], glow, l.gw, 1)
				for p := range hw {
					for q := range k {
						l.gb[q] += glow[p*k+q]
					}
				}
			}
			step++
			adam(l, cfg, step)
		}
		st := EpochStats{Epoch: epoch}
		st.TrainLoss, st.TrainAcc = evaluate(train)
		st.ValLoss, st.ValAcc = evaluate(valid)
		res.History = append(res.History, st)
		if cfg.Epoch != nil {
			cfg.Epoch(st)
		}
		if best, stop := es.next(st, len(valid) > 0); best {
			res.Best = epoch
			bestW, bestB = append(bestW[:0], l.w...), append(bestB[:0], l.b...)
		} else if stop {
			break
		}
	}
	l.w, l.b = bestW, bestB

	// Validation metrics at the best epoch, and the baseline that paints
	// every pixel the most frequent training class.
	conf := make([][]int, k)
	base := make([][]int, k)
	for q := range conf {
		conf[q], base[q] = make([]int, k), make([]int, k)
	}
	freq := make([]int, k)
	for _, i := range train {
		for _, lab := range d.Masks[i*s*s : (i+1)*s*s] {
			if lab != IgnoreLabel {
				freq[lab]++
			}
		}
	}
	common := 0
	for q, f := range freq {
		if f > freq[common] {
			common = q
		}
	}
	for _, i := range valid {
		_, up := forward(i)
		for p, lab := range d.Masks[i*s*s : (i+1)*s*s] {
			if lab == IgnoreLabel {
				continue
			}
			row := up[p*k : (p+1)*k]
			arg := 0
			for q, v := range row {
				if v > row[arg] {
					arg = q
				}
			}
			conf[lab][arg]++
			base[lab][common]++
		}
	}
	res.IoU, res.MeanIoU, res.PixAcc = iou(conf)
	_, res.BaselineMeanIoU, _ = iou(base)
	res.Head = &Head{Kind: "fcn", Sizes: []int{c, k}, Classes: d.Labels, Mean: f32(mean), Std: f32(std),
		W: [][]float32{f32(l.w)}, B: [][]float32{f32(l.b)}, InputSize: s}
	return res, nil
}

// iou computes per-class IoU from a confusion matrix (rows true), their
// mean over the classes that occur (in truth or prediction) and the pixel
// accuracy.
func iou(conf [][]int) ([]float64, float64, float64) {
	k := len(conf)
	out := make([]float64, k)
	var sum float64
	classes, correct, total := 0, 0, 0
	for q := range k {
		tp, fp, fn := conf[q][q], 0, 0
		for r := range k {
			if r != q {
				fp += conf[r][q]
				fn += conf[q][r]
			}
			total += conf[q][r]
		}
		correct += tp
		if tp+fp+fn > 0 {
			out[q] = float64(tp) / float64(tp+fp+fn)
			sum += out[q]
			classes++
		}
	}
	if classes == 0 || total == 0 {
		return out, 0, 0
	}
	return out, sum / float64(classes), float64(correct) / float64(total)
}
