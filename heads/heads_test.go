package heads

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vkvgg/vkvgg/npy"
)

// blobs reads the features, split and scikit-learn accuracy that
// tools/golden/heads_golden.py wrote.
func blobs(t *testing.T) (*Data, []int, []int, float64) {
	t.Helper()
	ms, err := npy.ReadNPZMembers("../testdata/heads/blobs.npz")
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]npy.Member{}
	for _, m := range ms {
		by[m.Name] = m
	}
	x, y := by["X"], by["y"]
	d := &Data{X: x.Float32, Y: y.Int32, N: x.Shape[0], D: x.Shape[1], K: 5, Labels: []string{"a", "b", "c", "d", "e"}}
	ints := func(m npy.Member) []int {
		out := make([]int, len(m.Int32))
		for i, v := range m.Int32 {
			out[i] = int(v)
		}
		return out
	}
	return d, ints(by["train"]), ints(by["val"]), float64(by["sklearn_val_acc"].Float32[0])
}

// TestLinearMatchesScikitLearn: a linear head on the reference features
// and split reaches scikit-learn's LogisticRegression validation accuracy
// within 2 points.
func TestLinearMatchesScikitLearn(t *testing.T) {
	data, train, val, sk := blobs(t)
	// scikit-learn's default C = 1 is an L2 penalty of ||w||^2 / 2 on the
	// summed loss: on the mean loss, a weight decay of 1 / n.
	res, err := Train(data, train, val, Config{Epochs: 200, LR: 0.01, WeightDecay: 1 / float64(len(train)), Batch: 64, Patience: 200, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("linear head: validation accuracy %.4f at epoch %d of %d; scikit-learn %.4f", res.ValAcc, res.Best, len(res.History), sk)
	if math.Abs(res.ValAcc-sk) > 0.02 {
		t.Errorf("validation accuracy %.4f, scikit-learn's %.4f: more than 2 points apart", res.ValAcc, sk)
	}
	n := 0
	for _, row := range res.Confusion {
		for _, c := range row {
			n += c
		}
	}
	if n != len(val) {
		t.Errorf("confusion matrix counts %d, %d validation examples", n, len(val))
	}
}

// TestMLPAndDeterminism trains an MLP with dropout twice with one seed
// (identical heads) and checks that the saved file loads back.
func TestMLPAndDeterminism(t *testing.T) {
	data, train, val, sk := blobs(t)
	cfg := Config{Hidden: 64, Dropout: 0.2, Epochs: 60, LR: 0.003, WeightDecay: 1e-4, Batch: 32, Patience: 10, Seed: 7}
	a, err := Train(data, train, val, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Train(data, train, val, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Head.W {
		for j := range a.Head.W[i] {
			if a.Head.W[i][j] != b.Head.W[i][j] {
				t.Fatalf("two runs with one seed differ at W%d[%d]", i+1, j)
			}
		}
	}
	t.Logf("MLP: validation accuracy %.4f (scikit-learn's linear model %.4f)", a.ValAcc, sk)
	if a.ValAcc < sk-0.05 {
		t.Errorf("MLP validation accuracy %.4f", a.ValAcc)
	}
	h := a.Head
	h.Network, h.Layer, h.Pooling, h.InputSize = "net", "fc7", "none", 224
	path := filepath.Join(t.TempDir(), "head.npz")
	if err := h.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p1, _ := h.Predict(data.X[:10*data.D], 10)
	p2, _ := back.Predict(data.X[:10*data.D], 10)
	for i := range p1 {
		if p1[i] != p2[i] {
			t.Fatalf("the loaded head predicts differently")
		}
	}
}

// TestLoadRefusesBadHeads: head files that do not hold together are
// refused with a message naming what is wrong.
func TestLoadRefusesBadHeads(t *testing.T) {
	good := func() []npy.Member {
		return []npy.Member{
			{Name: "W1", Shape: []int{3, 2}, Float32: []float32{1, 2, 3, 4, 5, 6}},
			{Name: "b1", Shape: []int{2}, Float32: []float32{0, 0}},
			{Name: "mean", Shape: []int{3}, Float32: []float32{0, 0, 0}},
			{Name: "std", Shape: []int{3}, Float32: []float32{1, 1, 1}},
			{Name: "classes", Shape: []int{2}, Unicode: []string{"cat", "dog"}},
			{Name: "network", Shape: []int{1}, Unicode: []string{"net"}},
			{Name: "layer", Shape: []int{1}, Unicode: []string{"fc7"}},
			{Name: "pooling", Shape: []int{1}, Unicode: []string{"none"}},
			{Name: "input_size", Shape: []int{1}, Int32: []int32{224}},
		}
	}
	dir := t.TempDir()
	write := func(ms []npy.Member) string {
		p := filepath.Join(dir, "h.npz")
		if err := npy.WriteNPZMembers(p, ms); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if _, err := Load(write(good())); err != nil {
		t.Fatalf("the good head: %v", err)
	}
	for _, c := range []struct {
		name  string
		spoil func([]npy.Member) []npy.Member
		want  string
	}{
		{"three classes for two outputs", func(ms []npy.Member) []npy.Member {
			ms[4] = npy.Member{Name: "classes", Shape: []int{3}, Unicode: []string{"a", "b", "c"}}
			return ms
		}, "2 outputs for 3 classes"},
		{"short bias", func(ms []npy.Member) []npy.Member {
			ms[1] = npy.Member{Name: "b1", Shape: []int{1}, Float32: []float32{0}}
			return ms
		}, "W1 and b1 do not match"},
		{"zero std", func(ms []npy.Member) []npy.Member {
			ms[3] = npy.Member{Name: "std", Shape: []int{3}, Float32: []float32{1, 0, 1}}
			return ms
		}, "std[1] is 0"},
		{"no layer", func(ms []npy.Member) []npy.Member { return append(ms[:6], ms[7:]...) }, "no layer"},
		{"no weights", func(ms []npy.Member) []npy.Member { return ms[2:] }, "no W1"},
	} {
		_, err := Load(write(c.spoil(good())))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

// TestTrainRefusesNonFinite: a NaN or infinite feature is refused before
// any training, and the message gives its index.
func TestTrainRefusesNonFinite(t *testing.T) {
	data, train, val, _ := blobs(t)
	for _, c := range []struct {
		at int
		v  float32
	}{{0, float32(math.NaN())}, {len(data.X) - 1, float32(math.Inf(1))}, {37, float32(math.Inf(-1))}} {
		d := *data
		d.X = append([]float32(nil), data.X...)
		d.X[c.at] = c.v
		_, err := Train(&d, train, val, Config{Epochs: 1, LR: 0.01, Batch: 64, Seed: 1})
		want := fmt.Sprintf("feature value %d is %v", c.at, c.v)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("X[%d] = %v: got %v, want an error with %q", c.at, c.v, err, want)
		}
	}
}
