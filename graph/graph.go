package graph

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/vkvgg/vkvgg/layers"
)

// Input is the name of a graph's input: a batch [N,H,W,3] of RGB images
// with values in [0,1].
const Input = "input"

// Errors for errors.Is.
var (
	// ErrUnknownLayer: a requested name is not a layer of the network.
	ErrUnknownLayer = errors.New("graph: unknown layer")
	// ErrInput: the input batch is malformed (sizes, length, values).
	ErrInput = errors.New("graph: bad input")
	// ErrShape: the input is too small or of a size a layer cannot take.
	ErrShape = errors.New("graph: input size does not fit the network")
	// ErrClosed: the Net was closed.
	ErrClosed = errors.New("graph: use of a closed Net")
	// ErrMemory: the planned memory exceeds what the device (or the CPU
	// limit) offers.
	ErrMemory = errors.New("graph: not enough memory")
)

// Node is one operation of a network: its output is named Name (a layer
// name users can ask for) and it reads the outputs of earlier nodes, or
// Input, named in Inputs.
type Node struct {
	Name   string
	Op     layers.Op
	Inputs []string
}

// Graph is a network as data: nodes in an order where each reads only
// earlier ones, and extra names for some outputs (Aliases: a batch norm
// folded into its convolution names the convolution's output, a ReLU or a
// block the tensor of the node that computes it).
type Graph struct {
	Name    string
	Nodes   []Node
	Aliases map[string]string
	// SizeHint, when set, turns a shape error into a more helpful
	// message (for example the input size fc6 needs).
	SizeHint func(in layers.Shape, node string, err error) error
}

// Validate checks the structure: names unique and not Input, inputs
// defined before use, ops present, aliases naming nodes.
func (g *Graph) Validate() error {
	if g == nil || len(g.Nodes) == 0 {
		return errors.New("graph: empty graph")
	}
	seen := map[string]bool{Input: true}
	for i, n := range g.Nodes {
		if n.Name == "" || n.Name == Input {
			return fmt.Errorf("graph %s: node %d has the name %q", g.Name, i, n.Name)
		}
		if seen[n.Name] {
			return fmt.Errorf("graph %s: two nodes are named %q", g.Name, n.Name)
		}
		if n.Op == nil {
			return fmt.Errorf("graph %s: node %s has no op", g.Name, n.Name)
		}
		if len(n.Inputs) == 0 {
			return fmt.Errorf("graph %s: node %s has no input", g.Name, n.Name)
		}
		for _, in := range n.Inputs {
			if !seen[in] {
				return fmt.Errorf("graph %s: node %s reads %q, which is not an earlier node", g.Name, n.Name, in)
			}
		}
		seen[n.Name] = true
	}
	for a, t := range g.Aliases {
		if seen[a] {
			return fmt.Errorf("graph %s: alias %q is also a node", g.Name, a)
		}
		if !seen[t] || t == Input {
			return fmt.Errorf("graph %s: alias %q names %q, which is not a node", g.Name, a, t)
		}
	}
	return nil
}

// index maps node names to positions.
func (g *Graph) index() map[string]int {
	m := make(map[string]int, len(g.Nodes))
	for i, n := range g.Nodes {
		m[n.Name] = i
	}
	return m
}

// resolve returns the node of a layer name (a node or an alias).
func (g *Graph) resolve(idx map[string]int, name string) (int, error) {
	if t, ok := g.Aliases[name]; ok {
		name = t
	}
	if i, ok := idx[name]; ok {
		return i, nil
	}
	return 0, fmt.Errorf("%w %q in %s (%d layers; `vkvgg layers` lists them: %s)", ErrUnknownLayer, name, g.Name, len(g.Names()), g.someNames())
}

// Names lists every layer name, in network order, each alias after the
// node it names.
func (g *Graph) Names() []string {
	byTarget := map[string][]string{}
	for a, t := range g.Aliases {
		byTarget[t] = append(byTarget[t], a)
	}
	var out []string
	for _, n := range g.Nodes {
		out = append(out, n.Name)
		al := byTarget[n.Name]
		sort.Strings(al)
		out = append(out, al...)
	}
	return out
}

// someNames is a short list of names for error messages.
func (g *Graph) someNames() string {
	names := g.Names()
	if len(names) <= 40 {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:20], ", ") + ", ..., " + strings.Join(names[len(names)-10:], ", ")
}

// shapes computes every node's output shape and form (vector or map) for
// an input shape, up to node last. On an error it returns the nodes
// before the one that failed.
func (g *Graph) shapes(in layers.Shape, last int) ([]layers.Shape, []bool, error) {
	shapes, vec, failed, err := g.walkShapes(in, last+1, nil)
	if err != nil {
		return shapes[:failed], vec[:failed], g.shapeErr(in, failed, err)
	}
	return shapes, vec, nil
}

// shapesOf computes the shapes of the nodes marked in needed (which holds
// every node they read), in order; the others stay zero.
func (g *Graph) shapesOf(in layers.Shape, needed []bool) ([]layers.Shape, []bool, error) {
	shapes, vec, failed, err := g.walkShapes(in, len(needed), needed)
	if err != nil {
		return nil, nil, g.shapeErr(in, failed, err)
	}
	return shapes, vec, nil
}

// walkShapes computes the shapes of the first n nodes (only those marked
// in needed, when given). On an error, failed is the node and err the
// op's own.
func (g *Graph) walkShapes(in layers.Shape, n int, needed []bool) (shapes []layers.Shape, vec []bool, failed int, err error) {
	idx := g.index()
	shapes, vec = make([]layers.Shape, n), make([]bool, n)
	for i, nd := range g.Nodes[:n] {
		if needed != nil && !needed[i] {
			continue
		}
		ins := make([]layers.Shape, len(nd.Inputs))
		inv := make([]bool, len(nd.Inputs))
		for j, name := range nd.Inputs {
			if name == Input {
				ins[j] = in
				continue
			}
			ins[j], inv[j] = shapes[idx[name]], vec[idx[name]]
		}
		s, err := nd.Op.OutShape(ins)
		if err != nil {
			return shapes, vec, i, err
		}
		shapes[i], vec[i] = s, layers.IsVector(nd.Op, inv)
	}
	return shapes, vec, 0, nil
}

// shapeErr is the message of node i's refusing an input size: the
// network's hint, or the smallest square size it takes.
func (g *Graph) shapeErr(in layers.Shape, i int, err error) error {
	n := g.Nodes[i]
	err = fmt.Errorf("%w: layer %s (%s) for an input of %dx%d: %w", ErrShape, n.Name, n.Op.Kind(), in.H, in.W, err)
	if g.SizeHint != nil {
		return g.SizeHint(in, n.Name, err)
	}
	if m := g.minSquare(); m > 0 && (in.H < m || in.W < m) {
		return fmt.Errorf("%w (%s takes inputs of at least %dx%d)", err, g.Name, m, m)
	}
	return err
}

// minSquare is the smallest square input every node takes (0 when none
// up to 1024 does).
func (g *Graph) minSquare() int {
	last := len(g.Nodes) - 1
	for s := 1; s <= 1024; s++ {
		if _, _, _, err := g.walkShapes(layers.Shape{N: 1, H: s, W: s, C: 3}, last+1, nil); err == nil {
			return s
		}
	}
	return 0
}

// LayerInfo describes one layer name for an input size.
type LayerInfo struct {
	Name  string
	Kind  string // the op, or "= node" for an alias
	Shape []int  // [N,H,W,C] for maps, [N,F] for vectors
}

// Layers lists every layer name with its shape for n images of h x w, in
// network order. Layers past the first one the size does not fit are
// left out; err says why.
func (g *Graph) Layers(n, h, w int) ([]LayerInfo, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	byTarget := map[string][]string{}
	for a, t := range g.Aliases {
		byTarget[t] = append(byTarget[t], a)
	}
	shapes, vec, err := g.shapes(layers.Shape{N: n, H: h, W: w, C: 3}, len(g.Nodes)-1)
	var out []LayerInfo
	for i, s := range shapes {
		nd := g.Nodes[i]
		sh := featureShape(s, vec[i])
		out = append(out, LayerInfo{Name: nd.Name, Kind: nd.Op.Kind(), Shape: sh})
		al := byTarget[nd.Name]
		sort.Strings(al)
		for _, a := range al {
			out = append(out, LayerInfo{Name: a, Kind: "= " + nd.Name, Shape: sh})
		}
	}
	return out, err
}

// featureShape is the shape a user sees.
func featureShape(s layers.Shape, vector bool) []int {
	if vector {
		return []int{s.N, s.Image()}
	}
	return []int{s.N, s.H, s.W, s.C}
}

// ParamCount is the number of parameters of the graph.
func (g *Graph) ParamCount() int {
	n := 0
	for _, nd := range g.Nodes {
		for _, p := range nd.Op.Params() {
			c := 1
			for _, d := range p.Shape {
				c *= d
			}
			n += c
		}
	}
	return n
}
