// Package heads trains a classification head on features that `vkvgg
// extract` wrote, saves it in a file numpy and PyTorch read, and attaches
// it to the network it was trained on, so that `vkvgg predict` runs the
// pretrained network and the head as one graph on the device.
//
// # Training
//
// Softmax regression (linear) or an MLP with one hidden ReLU layer and
// optional dropout, trained with Adam on the cross-entropy (plus L2 weight
// decay on the weights), on features standardised with the mean and
// standard deviation of the training split. The validation split is
// stratified; training stops early when the validation loss has not
// improved for Patience epochs and keeps the best epoch's weights. A run
// is deterministic for a seed. Matrix products go through gonum's BLAS.
//
// # The head file
//
// An uncompressed .npz (np.load reads it without allow_pickle):
//
//   - W1 [in, hidden or classes], b1; for an MLP also W2 [hidden, classes], b2
//     (float32, [in, out] layout: y = x @ W + b);
//   - mean, std [in]: the standardisation, x' = (x - mean) / std;
//   - classes: the class names (numpy unicode);
//   - network, layer, pooling (unicode [1]) and input_size (int32 [1]):
//     what the head expects.
//
// In PyTorch: z = np.load("head.npz"); x = (feats - z["mean"]) / z["std"];
// h = torch.relu(x @ W1 + b1) for an MLP; logits = h @ W2 + b2.
package heads

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/vkvgg/vkvgg/npy"
)

// Config configures Train.
type Config struct {
	Hidden      int     // 0: linear (softmax regression); > 0: an MLP with this many hidden units
	Dropout     float64 // MLP: dropout rate on the hidden layer while training
	Epochs      int     // at most this many passes over the training split
	LR          float64 // Adam's learning rate
	WeightDecay float64 // L2 penalty on the weights (not the biases)
	Batch       int     // examples per step
	Patience    int     // stop after this many epochs without a better validation loss
	Seed        uint64
	// Epoch, when set, is called after each epoch.
	Epoch func(EpochStats)
}

// EpochStats is one epoch's figures.
type EpochStats struct {
	Epoch              int
	TrainLoss, ValLoss float64
	TrainAcc, ValAcc   float64
}

// Data is a feature matrix: N rows of D values, with labels in [0, K).
type Data struct {
	X      []float32 // N*D, row-major
	Y      []int32
	N, D   int
	K      int
	Labels []string // class names, len K
}

// Head is a trained head.
type Head struct {
	// Kind is "classifier" (vectors in, class probabilities out) or "fcn"
	// (a map in, a 1x1 convolution to class scores upsampled to the
	// input's size).
	Kind      string
	Mean, Std []float32
	// Layers: W [in, out] row-major, B [out]; ReLU between them.
	W, B    [][]float32
	Sizes   []int // in, hidden..., classes
	Classes []string
	// What it expects from the network.
	Network, Layer, Pooling string
	InputSize               int
}

// Result is a training run's outcome.
type Result struct {
	Head      *Head
	History   []EpochStats
	Best      int     // the epoch whose weights were kept
	Confusion [][]int // validation: rows true class, columns predicted
	ValAcc    float64
}

// Split returns a stratified split of the labels: about val of each class
// goes to validation (at least one example of any class with two or more),
// shuffled with seed. Indices are sorted.
func Split(y []int32, k int, val float64, seed uint64) (train, valid []int) {
	rng := rand.New(rand.NewPCG(seed, 0x51f7))
	byClass := make([][]int, k)
	for i, c := range y {
		byClass[c] = append(byClass[c], i)
	}
	for _, idx := range byClass {
		rng.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
		nv := int(math.Round(val * float64(len(idx))))
		if val > 0 && nv == 0 && len(idx) >= 2 {
			nv = 1
		}
		valid = append(valid, idx[:nv]...)
		train = append(train, idx[nv:]...)
	}
	sort.Ints(train)
	sort.Ints(valid)
	return train, valid
}

// check validates data.
func (d *Data) check() error {
	if d.N < 1 || d.D < 1 || d.K < 2 {
		return fmt.Errorf("heads: %d examples of %d features in %d classes: need at least 1, 1 and 2", d.N, d.D, d.K)
	}
	if len(d.X) != d.N*d.D || len(d.Y) != d.N {
		return fmt.Errorf("heads: %d values and %d labels for %d x %d", len(d.X), len(d.Y), d.N, d.D)
	}
	for i, c := range d.Y {
		if c < 0 || int(c) >= d.K {
			return fmt.Errorf("heads: example %d has label %d, outside [0,%d)", i, c, d.K)
		}
	}
	if i := npy.NonFinite(d.X); i >= 0 {
		return fmt.Errorf("heads: feature value %d is %v", i, d.X[i])
	}
	return nil
}

// layer is one dense layer in float64 for training, with Adam state.
type layer struct {
	in, out      int
	w, b         []float64
	gw, gb       []float64
	mw, vw       []float64
	mb, vb       []float64
	bestW, bestB []float64
}

func newLayer(rng *rand.Rand, in, out int) *layer {
	l := &layer{in: in, out: out, w: make([]float64, in*out), b: make([]float64, out),
		gw: make([]float64, in*out), gb: make([]float64, out), mw: make([]float64, in*out), vw: make([]float64, in*out),
		mb: make([]float64, out), vb: make([]float64, out)}
	lim := math.Sqrt(6 / float64(in+out)) // Glorot uniform
	for i := range l.w {
		l.w[i] = (2*rng.Float64() - 1) * lim
	}
	return l
}

// gemm computes c = a(m x k) * b(k x n) (+ c when beta 1), row-major;
// with ta, a is stored k x m, with tb, b is n x k.
func gemm(ta, tb bool, m, n, k int, a, b, c []float64, beta float64) {
	tA, tB := blas.NoTrans, blas.NoTrans
	lda, ldb := k, n
	ar, ac := m, k
	br, bc := k, n
	if ta {
		tA, lda, ar, ac = blas.Trans, m, k, m
	}
	if tb {
		tB, ldb, br, bc = blas.Trans, k, n, k
	}
	blas64.Gemm(tA, tB, 1,
		blas64.General{Rows: ar, Cols: ac, Stride: lda, Data: a},
		blas64.General{Rows: br, Cols: bc, Stride: ldb, Data: b},
		beta, blas64.General{Rows: m, Cols: n, Stride: n, Data: c})
}

// net is the model being trained.
type net struct {
	layers  []*layer
	dropout float64
}

// forward computes the logits of x (n x d); acts keeps each layer's input
// (after ReLU and dropout) for backward.
func (nt *net) forward(x []float64, n int, rng *rand.Rand, train bool) (logits []float64, acts [][]float64, masks [][]bool) {
	cur := x
	for li, l := range nt.layers {
		acts = append(acts, cur)
		out := make([]float64, n*l.out)
		for r := range n {
			copy(out[r*l.out:(r+1)*l.out], l.b)
		}
		gemm(false, false, n, l.out, l.in, cur, l.w, out, 1)
		if li < len(nt.layers)-1 {
			mask := make([]bool, len(out))
			keep := 1 - nt.dropout
			for i, v := range out {
				if v < 0 {
					out[i] = 0
					continue
				}
				if train && nt.dropout > 0 {
					if rng.Float64() < nt.dropout {
						out[i] = 0
						continue
					}
					out[i] = v / keep
				}
				mask[i] = true
			}
			masks = append(masks, mask)
		}
		cur = out
	}
	return cur, acts, masks
}

// softmaxRow turns one row of logits into probabilities in place and
// returns the index of the largest.
func softmaxRow(row []float64) (arg int) {
	mx := math.Inf(-1)
	for j, v := range row {
		if v > mx {
			mx, arg = v, j
		}
	}
	var s float64
	for j, v := range row {
		row[j] = math.Exp(v - mx)
		s += row[j]
	}
	for j := range row {
		row[j] /= s
	}
	return arg
}

// softmaxLoss turns logits into probabilities in place and returns the
// summed cross-entropy and the number correct.
func softmaxLoss(p []float64, y []int32, k int) (loss float64, correct int) {
	for r, c := range y {
		row := p[r*k : (r+1)*k]
		if softmaxRow(row) == int(c) {
			correct++
		}
		loss -= math.Log(max(row[c], 1e-300))
	}
	return loss, correct
}

// Train trains a head on data's rows train, validating on valid.
func Train(data *Data, train, valid []int, cfg Config) (*Result, error) {
	if err := data.check(); err != nil {
		return nil, err
	}
	if len(train) == 0 {
		return nil, errors.New("heads: no training example")
	}
	if cfg.Epochs < 1 || cfg.LR <= 0 || cfg.Batch < 1 || cfg.Hidden < 0 || cfg.Dropout < 0 || cfg.Dropout >= 1 || cfg.WeightDecay < 0 {
		return nil, fmt.Errorf("heads: bad configuration %+v", cfg)
	}
	if cfg.Patience < 1 {
		cfg.Patience = 10
	}
	d, k := data.D, data.K
	// Standardisation from the training split.
	mean, std := make([]float64, d), make([]float64, d)
	for _, i := range train {
		for j, v := range data.X[i*d : (i+1)*d] {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(len(train))
	}
	for _, i := range train {
		for j, v := range data.X[i*d : (i+1)*d] {
			e := float64(v) - mean[j]
			std[j] += e * e
		}
	}
	for j := range std {
		std[j] = math.Sqrt(std[j] / float64(len(train)))
		if std[j] < 1e-6 {
			std[j] = 1 // a constant feature: centred, not scaled
		}
	}
	rows := func(idx []int) ([]float64, []int32) {
		x := make([]float64, len(idx)*d)
		y := make([]int32, len(idx))
		for r, i := range idx {
			for j, v := range data.X[i*d : (i+1)*d] {
				x[r*d+j] = (float64(v) - mean[j]) / std[j]
			}
			y[r] = data.Y[i]
		}
		return x, y
	}
	xt, yt := rows(train)
	xv, yv := rows(valid)

	rng := rand.New(rand.NewPCG(cfg.Seed, 0x4ead))
	sizes := []int{d, k}
	if cfg.Hidden > 0 {
		sizes = []int{d, cfg.Hidden, k}
	}
	nt := &net{dropout: cfg.Dropout}
	for i := 0; i+1 < len(sizes); i++ {
		nt.layers = append(nt.layers, newLayer(rng, sizes[i], sizes[i+1]))
	}
	evaluate := func(x []float64, y []int32) (float64, float64, []float64) {
		if len(y) == 0 {
			return 0, 0, nil
		}
		logits, _, _ := nt.forward(x, len(y), rng, false)
		loss, correct := softmaxLoss(logits, y, k)
		return loss / float64(len(y)), float64(correct) / float64(len(y)), logits
	}
	res := &Result{}
	order := make([]int, len(yt))
	for i := range order {
		order[i] = i
	}
	step := 0
	es := newEarlyStop(cfg.Patience)
	save := func() {
		for _, l := range nt.layers {
			l.bestW = append(l.bestW[:0], l.w...)
			l.bestB = append(l.bestB[:0], l.b...)
		}
	}
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		for b0 := 0; b0 < len(order); b0 += cfg.Batch {
			idx := order[b0:min(len(order), b0+cfg.Batch)]
			n := len(idx)
			x := make([]float64, n*d)
			y := make([]int32, n)
			for r, i := range idx {
				copy(x[r*d:(r+1)*d], xt[i*d:(i+1)*d])
				y[r] = yt[i]
			}
			p, acts, masks := nt.forward(x, n, rng, true)
			softmaxLoss(p, y, k)
			// dL/dlogits = (p - onehot) / n
			grad := p
			for r, c := range y {
				grad[r*k+int(c)] -= 1
			}
			for i := range grad {
				grad[i] /= float64(n)
			}
			for li := len(nt.layers) - 1; li >= 0; li-- {
				l := nt.layers[li]
				gemm(true, false, l.in, l.out, n, acts[li], grad, l.gw, 0)
				for j := range l.gb {
					l.gb[j] = 0
				}
				for r := range n {
					for j := range l.out {
						l.gb[j] += grad[r*l.out+j]
					}
				}
				if li > 0 {
					prev := make([]float64, n*l.in)
					gemm(false, true, n, l.in, l.out, grad, l.w, prev, 0)
					keep := 1 - nt.dropout
					for i, m := range masks[li-1] {
						if !m {
							prev[i] = 0
						} else if nt.dropout > 0 {
							prev[i] /= keep
						}
					}
					grad = prev
				}
			}
			step++
			for _, l := range nt.layers {
				adam(l, cfg, step)
			}
		}
		st := EpochStats{Epoch: epoch}
		st.TrainLoss, st.TrainAcc, _ = evaluate(xt, yt)
		st.ValLoss, st.ValAcc, _ = evaluate(xv, yv)
		res.History = append(res.History, st)
		if cfg.Epoch != nil {
			cfg.Epoch(st)
		}
		if best, stop := es.next(st, len(yv) > 0); best {
			res.Best = epoch
			save()
		} else if stop {
			break
		}
	}
	for _, l := range nt.layers {
		l.w, l.b = l.bestW, l.bestB
	}
	_, valAcc, logits := evaluate(xv, yv)
	res.ValAcc = valAcc
	res.Confusion = make([][]int, k)
	for i := range res.Confusion {
		res.Confusion[i] = make([]int, k)
	}
	for r, c := range yv {
		row := logits[r*k : (r+1)*k]
		arg := 0
		for j, v := range row {
			if v > row[arg] {
				arg = j
			}
		}
		res.Confusion[c][arg]++
	}
	h := &Head{Kind: "classifier", Sizes: sizes, Classes: data.Labels, Mean: f32(mean), Std: f32(std)}
	for _, l := range nt.layers {
		h.W = append(h.W, f32(l.w))
		h.B = append(h.B, f32(l.b))
	}
	res.Head = h
	return res, nil
}

// adam applies one Adam step to l from its gradients, with L2 weight
// decay on the weights.
func adam(l *layer, cfg Config, step int) {
	const beta1, beta2, eps = 0.9, 0.999, 1e-8
	c1, c2 := 1-math.Pow(beta1, float64(step)), 1-math.Pow(beta2, float64(step))
	for i, g := range l.gw {
		g += cfg.WeightDecay * l.w[i]
		l.mw[i] = beta1*l.mw[i] + (1-beta1)*g
		l.vw[i] = beta2*l.vw[i] + (1-beta2)*g*g
		l.w[i] -= cfg.LR * (l.mw[i] / c1) / (math.Sqrt(l.vw[i]/c2) + eps)
	}
	for i, g := range l.gb {
		l.mb[i] = beta1*l.mb[i] + (1-beta1)*g
		l.vb[i] = beta2*l.vb[i] + (1-beta2)*g*g
		l.b[i] -= cfg.LR * (l.mb[i] / c1) / (math.Sqrt(l.vb[i]/c2) + eps)
	}
}

func f32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// Predict computes the head's class probabilities for rows of x (n x d)
// on the host, in float64: the numpy formula of the package doc.
func (h *Head) Predict(x []float32, n int) ([]float64, error) {
	d := h.Sizes[0]
	if len(x) != n*d {
		return nil, fmt.Errorf("heads: %d values for %d rows of %d features", len(x), n, d)
	}
	cur := make([]float64, n*d)
	for r := range n {
		for j := range d {
			cur[r*d+j] = (float64(x[r*d+j]) - float64(h.Mean[j])) / float64(h.Std[j])
		}
	}
	for li := range h.W {
		in, out := h.Sizes[li], h.Sizes[li+1]
		next := make([]float64, n*out)
		for r := range n {
			for j := range out {
				next[r*out+j] = float64(h.B[li][j])
			}
		}
		w := make([]float64, len(h.W[li]))
		for i, v := range h.W[li] {
			w[i] = float64(v)
		}
		gemm(false, false, n, out, in, cur, w, next, 1)
		if li < len(h.W)-1 {
			for i, v := range next {
				next[i] = max(v, 0)
			}
		}
		cur = next
	}
	k := h.Sizes[len(h.Sizes)-1]
	y := make([]int32, n)
	softmaxLoss(cur, y, k)
	return cur, nil
}

// earlyStop follows the loss epoch by epoch: the validation loss, or the
// training loss when there is no validation set. An epoch is the best when
// it beats the best so far, and training stops after patience epochs
// without one.
type earlyStop struct {
	patience int
	best     float64
	since    int
}

func newEarlyStop(patience int) *earlyStop {
	return &earlyStop{patience: patience, best: math.Inf(1)}
}

// next takes an epoch's figures and reports whether it is the best so far
// and, if not, whether to stop.
func (e *earlyStop) next(st EpochStats, haveVal bool) (best, stop bool) {
	score := st.ValLoss
	if !haveVal {
		score = st.TrainLoss
	}
	if score < e.best-1e-9 {
		e.best, e.since = score, 0
		return true, false
	}
	e.since++
	return false, e.since >= e.patience
}
