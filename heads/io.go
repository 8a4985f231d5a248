package heads

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/layers"
	"github.com/vkvgg/vkvgg/npy"
)

// Meta is what features were extracted with: read from the manifest of
// a `vkvgg extract` folder.
type Meta struct {
	Network, Weights, Layer, Pooling string
	InputSize                        int
}

// LoadFeatures reads the features of layer from the shards of a `vkvgg
// extract` folder, with their labels (images outside a class folder, label
// -1, are left out and counted) and the class names of classes.txt.
func LoadFeatures(dir, layer string) (*Data, Meta, int, error) {
	var man struct {
		Job struct {
			Network string   `json:"network"`
			Weights string   `json:"weights"`
			Layers  []string `json:"layers"`
			Pooling string   `json:"pooling"`
			Size    int      `json:"input_size"`
		} `json:"job"`
		Complete bool `json:"complete"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, Meta{}, 0, fmt.Errorf("heads: %s is not a `vkvgg extract` folder: %w", dir, err)
	}
	if err := json.Unmarshal(b, &man); err != nil {
		return nil, Meta{}, 0, fmt.Errorf("heads: %s/manifest.json: %w", dir, err)
	}
	if !man.Complete {
		return nil, Meta{}, 0, fmt.Errorf("heads: %s holds an unfinished extraction: run the same vkvgg extract again first", dir)
	}
	if layer == "" && len(man.Job.Layers) == 1 {
		layer = man.Job.Layers[0]
	}
	found := false
	for _, l := range man.Job.Layers {
		found = found || l == layer
	}
	if !found {
		return nil, Meta{}, 0, fmt.Errorf("heads: layer %q is not in %s (it has %s)", layer, dir, strings.Join(man.Job.Layers, ", "))
	}
	meta := Meta{Network: man.Job.Network, Weights: man.Job.Weights, Layer: layer, Pooling: man.Job.Pooling, InputSize: man.Job.Size}
	cb, err := os.ReadFile(filepath.Join(dir, "classes.txt"))
	if err != nil {
		return nil, meta, 0, fmt.Errorf("heads: %w", err)
	}
	var classes []string
	for _, c := range strings.Split(strings.TrimRight(string(cb), "\n"), "\n") {
		if c != "" {
			classes = append(classes, c)
		}
	}
	if len(classes) < 2 {
		return nil, meta, 0, fmt.Errorf("heads: %s/classes.txt lists %d classes: a head needs a labelled folder (one subfolder per class, at least 2)", dir, len(classes))
	}
	shards, err := filepath.Glob(filepath.Join(dir, "part-*.npz"))
	if err != nil || len(shards) == 0 {
		return nil, meta, 0, fmt.Errorf("heads: no shard in %s", dir)
	}
	sort.Strings(shards)
	data := &Data{K: len(classes), Labels: classes}
	unlabelled := 0
	for _, sh := range shards {
		ms, err := npy.ReadNPZMembers(sh)
		if err != nil {
			return nil, meta, 0, err
		}
		var feat, labels *npy.Member
		for i := range ms {
			switch ms[i].Name {
			case layer:
				feat = &ms[i]
			case "labels":
				labels = &ms[i]
			}
		}
		if feat == nil || labels == nil || feat.Float32 == nil || labels.Int32 == nil || len(feat.Shape) < 1 || feat.Shape[0] != len(labels.Int32) {
			return nil, meta, 0, fmt.Errorf("heads: %s lacks %s or labels, or their sizes differ", sh, layer)
		}
		n := feat.Shape[0]
		if n == 0 {
			continue
		}
		d := len(feat.Float32) / n
		if data.D != 0 && d != data.D {
			return nil, meta, 0, fmt.Errorf("heads: %s has %d features per image, earlier shards %d", sh, d, data.D)
		}
		data.D = d
		for i, c := range labels.Int32 {
			if c < 0 {
				unlabelled++
				continue
			}
			if int(c) >= len(classes) {
				return nil, meta, 0, fmt.Errorf("heads: %s: label %d beyond the %d classes of classes.txt", sh, c, len(classes))
			}
			data.X = append(data.X, feat.Float32[i*d:(i+1)*d]...)
			data.Y = append(data.Y, c)
			data.N++
		}
	}
	if data.N == 0 {
		return nil, meta, unlabelled, fmt.Errorf("heads: no labelled image in %s", dir)
	}
	return data, meta, unlabelled, nil
}

// Save writes the head file (see the package doc); nothing is left at
// path on error.
func (h *Head) Save(path string) error {
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	ms := []npy.Member{}
	for i := range h.W {
		ms = append(ms,
			npy.Member{Name: fmt.Sprintf("W%d", i+1), Shape: []int{h.Sizes[i], h.Sizes[i+1]}, Float32: h.W[i]},
			npy.Member{Name: fmt.Sprintf("b%d", i+1), Shape: []int{h.Sizes[i+1]}, Float32: h.B[i]})
	}
	ms = append(ms,
		npy.Member{Name: "mean", Shape: []int{len(h.Mean)}, Float32: h.Mean},
		npy.Member{Name: "std", Shape: []int{len(h.Std)}, Float32: h.Std},
		npy.Member{Name: "classes", Shape: []int{len(h.Classes)}, Unicode: h.Classes},
		npy.Member{Name: "network", Shape: []int{1}, Unicode: []string{h.Network}},
		npy.Member{Name: "layer", Shape: []int{1}, Unicode: []string{h.Layer}},
		npy.Member{Name: "pooling", Shape: []int{1}, Unicode: []string{h.Pooling}},
		npy.Member{Name: "input_size", Shape: []int{1}, Int32: []int32{int32(h.InputSize)}},
		npy.Member{Name: "kind", Shape: []int{1}, Unicode: []string{h.kind()}},
	)
	if err := npy.WriteNPZMembers(tmp, ms); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("heads: %w", err)
	}
	return nil
}

func (h *Head) kind() string {
	if h.Kind == "" {
		return "classifier"
	}
	return h.Kind
}

// folded returns layer i's weights and bias with the standardisation
// folded in when i is the first layer:
// (x - mean) / std @ W + b = x @ (W / std) + (b - (mean / std) @ W).
func (h *Head) folded(i int) ([]float32, []float32) {
	in, out := h.Sizes[i], h.Sizes[i+1]
	w := append([]float32(nil), h.W[i]...)
	b := append([]float32(nil), h.B[i]...)
	if i > 0 {
		return w, b
	}
	for r := range in {
		s, m := float64(h.Std[r]), float64(h.Mean[r])
		for j := range out {
			wv := float64(h.W[0][r*out+j])
			w[r*out+j] = float32(wv / s)
			b[j] = float32(float64(b[j]) - m/s*wv)
		}
	}
	return w, b
}

// Load reads a head file and checks it.
func Load(path string) (*Head, error) {
	ms, err := npy.ReadNPZMembers(path)
	if err != nil {
		return nil, err
	}
	by := map[string]npy.Member{}
	for _, m := range ms {
		by[m.Name] = m
	}
	str := func(name string) (string, error) {
		m, ok := by[name]
		if !ok || len(m.Unicode) != 1 {
			return "", fmt.Errorf("heads: %s: no %s (a one-string array)", path, name)
		}
		return m.Unicode[0], nil
	}
	h := &Head{Kind: "classifier"}
	if _, ok := by["kind"]; ok {
		if h.Kind, err = str("kind"); err != nil {
			return nil, err
		}
	}
	if h.Kind != "classifier" && h.Kind != "fcn" {
		return nil, fmt.Errorf("heads: %s: unknown kind %q (classifier or fcn)", path, h.Kind)
	}
	if h.Network, err = str("network"); err != nil {
		return nil, err
	}
	if h.Layer, err = str("layer"); err != nil {
		return nil, err
	}
	if h.Pooling, err = str("pooling"); err != nil {
		return nil, err
	}
	if m, ok := by["input_size"]; !ok || len(m.Int32) != 1 || m.Int32[0] < 1 {
		return nil, fmt.Errorf("heads: %s: no input_size", path)
	} else {
		h.InputSize = int(m.Int32[0])
	}
	cl, ok := by["classes"]
	if !ok || cl.Unicode == nil {
		return nil, fmt.Errorf("heads: %s: no classes", path)
	}
	h.Classes = cl.Unicode
	for i := 1; ; i++ {
		w, okw := by[fmt.Sprintf("W%d", i)]
		b, okb := by[fmt.Sprintf("b%d", i)]
		if !okw {
			break
		}
		if !okb || len(w.Shape) != 2 || w.Float32 == nil || len(b.Float32) != w.Shape[1] {
			return nil, fmt.Errorf("heads: %s: W%d and b%d do not match", path, i, i)
		}
		if i == 1 {
			h.Sizes = append(h.Sizes, w.Shape[0])
		} else if w.Shape[0] != h.Sizes[len(h.Sizes)-1] {
			return nil, fmt.Errorf("heads: %s: W%d takes %d inputs after a layer of %d", path, i, w.Shape[0], h.Sizes[len(h.Sizes)-1])
		}
		h.Sizes = append(h.Sizes, w.Shape[1])
		h.W, h.B = append(h.W, w.Float32), append(h.B, b.Float32)
	}
	if len(h.W) == 0 {
		return nil, fmt.Errorf("heads: %s: no W1", path)
	}
	if h.Kind == "fcn" && len(h.W) != 1 {
		return nil, fmt.Errorf("heads: %s: an fcn head has one layer, this one %d", path, len(h.W))
	}
	if k := h.Sizes[len(h.Sizes)-1]; k != len(h.Classes) {
		return nil, fmt.Errorf("heads: %s: %d outputs for %d classes", path, k, len(h.Classes))
	}
	mean, std := by["mean"], by["std"]
	if len(mean.Float32) != h.Sizes[0] || len(std.Float32) != h.Sizes[0] {
		return nil, fmt.Errorf("heads: %s: mean and std must have the %d inputs of W1", path, h.Sizes[0])
	}
	for i, s := range std.Float32 {
		if !(s > 0) || math.IsInf(float64(s), 0) {
			return nil, fmt.Errorf("heads: %s: std[%d] is %v", path, i, s)
		}
	}
	h.Mean, h.Std = mean.Float32, std.Float32
	return h, nil
}

// Attach adds the head to a copy of the network's graph: a global pooling
// of the head's layer when it was pooled, then the head's layers with the
// standardisation folded into the first one, and a softmax named
// "head.prob" (the logits are "head.logits"). The feature size is checked
// against the network for an input of the head's size.
func (h *Head) Attach(g *graph.Graph) (*graph.Graph, error) {
	infos, err := g.Layers(1, h.InputSize, h.InputSize)
	if err != nil && len(infos) == 0 {
		return nil, err
	}
	var shape []int
	for _, l := range infos {
		if l.Name == h.Layer {
			shape = l.Shape[1:]
		}
	}
	if shape == nil {
		return nil, fmt.Errorf("heads: %s has no layer %q for a %dx%d input (the head was trained on %s)", g.Name, h.Layer, h.InputSize, h.InputSize, h.Network)
	}
	c := *g
	c.Nodes = append([]graph.Node(nil), g.Nodes...)
	c.Aliases = map[string]string{}
	for k, v := range g.Aliases {
		c.Aliases[k] = v
	}
	prev := h.Layer
	if t, ok := g.Aliases[prev]; ok {
		prev = t // a node reads nodes, not aliases
	}
	if h.Kind == "fcn" {
		if len(shape) != 3 || shape[2] != h.Sizes[0] {
			return nil, fmt.Errorf("heads: the fcn head takes a map of %d channels, %s gives %v at %s", h.Sizes[0], g.Name, shape, h.Layer)
		}
		w, b := h.folded(0)
		one := layers.Window{KH: 1, KW: 1, SH: 1, SW: 1}
		c.Nodes = append(c.Nodes,
			graph.Node{Name: "head.lowres", Op: &layers.Conv{Window: one, Cin: h.Sizes[0], Cout: h.Sizes[1], W: w, B: b}, Inputs: []string{prev}},
			graph.Node{Name: "head.scores", Op: layers.Resize{}, Inputs: []string{"head.lowres", graph.Input}},
			graph.Node{Name: "head.prob", Op: &layers.Softmax{Maps: true}, Inputs: []string{"head.scores"}})
		if err := c.Validate(); err != nil {
			return nil, err
		}
		return &c, nil
	}
	feat := 1
	for _, d := range shape {
		feat *= d
	}
	if h.Pooling == "avg" || h.Pooling == "max" {
		if len(shape) == 3 {
			c.Nodes = append(c.Nodes, graph.Node{Name: "head.pool", Op: &layers.Pool{Avg: h.Pooling == "avg", Adaptive: true, OH: 1, OW: 1, Flat: true}, Inputs: []string{prev}})
			prev, feat = "head.pool", shape[2]
		}
	}
	if feat != h.Sizes[0] {
		return nil, fmt.Errorf("heads: the head takes %d features, %s gives %d at %s for a %dx%d input (pooling %s)", h.Sizes[0], g.Name, feat, h.Layer, h.InputSize, h.InputSize, h.Pooling)
	}
	for i := range h.W {
		in, out := h.Sizes[i], h.Sizes[i+1]
		w, b := h.folded(i)
		name := fmt.Sprintf("head.fc%d", i+1)
		if i == len(h.W)-1 {
			name = "head.logits"
		}
		c.Nodes = append(c.Nodes, graph.Node{Name: name, Op: &layers.FC{In: in, Out: out, W: w, B: b, ReLU: i < len(h.W)-1}, Inputs: []string{prev}})
		prev = name
	}
	c.Nodes = append(c.Nodes, graph.Node{Name: "head.prob", Op: &layers.Softmax{}, Inputs: []string{prev}})
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}
