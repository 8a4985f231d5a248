// Package extract runs a network over a whole dataset and writes the
// requested feature maps in shards that numpy reads: the job behind
// `vkvgg extract`.
//
// # Input
//
// Paths are image files and folders, walked recursively in lexical order
// (hidden files and folders, whose names start with a dot, are left
// out). A folder whose files sit in subfolders is a labelled dataset in
// torchvision's ImageFolder convention: each immediate subfolder is a
// class; the classes of all folders, sorted, are numbered from 0 and
// listed in classes.txt. Files outside a class folder get label -1.
// Every file is a candidate: one that does not decode as an image is
// skipped, with the reason, not an error.
//
// # Output
//
// DIR/part-00000.npz, part-00001.npz, ...: shard k holds the candidates
// k*Shard to (k+1)*Shard-1 that decoded, as members:
//
//   - one float32 array per layer: [n,H,W,C] maps, [n,F] vectors, or
//     [n,C] maps pooled over height and width;
//   - paths: each image's path (as given plus its path inside the
//     folder), numpy unicode ('<U'), no pickle needed;
//   - labels: int32 class numbers, -1 outside a class folder;
//   - skipped, skipped_reason: the candidates of the shard that were
//     skipped, and why.
//
// DIR/manifest.json records the job (network, weights file name, size and
// SHA-256, layers, pooling, input size, batch, device, shard size, the
// candidate list's count and hash) and the shards written; DIR/classes.txt the classes;
// DIR/skipped.tsv every skipped file and its reason.
//
// # Resuming
//
// Each shard is written to a temporary name and renamed, so a shard on
// disk is complete. Which candidates go to which shard does not depend
// on what was decoded before, so running the same job again on the same
// DIR (after SIGINT, SIGTERM or SIGKILL at any moment) writes only the
// missing shards, and they equal an uninterrupted run's. A different job
// on a DIR that holds one is refused with the difference named.
package extract

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/images"
	"github.com/vkvgg/vkvgg/npy"
)

// Runner is the network: a graph.Net, or models.Net which embeds one.
type Runner interface {
	RunPooled(ctx context.Context, b graph.Batch, pool graph.Pooling, names ...string) (*graph.Result, error)
	Graph() *graph.Graph
}

// Job describes an extraction.
type Job struct {
	Network string // the network's name, recorded
	Weights string // the weight file or random: name, recorded and hashed
	Device  string // the device the features come from, recorded
	// Precision is the device's storage precision when not float32
	// ("fp16"), recorded; "" for fp32.
	Precision string
	Layers    []string      // layer names
	Pool      graph.Pooling // reduce maps over height and width
	Size      int           // images are centre-cropped and resized to Size x Size (at least 1)
	Batch     int           // images per run
	Shard     int           // candidates per shard (1024 by default)
	Out       string        // the output folder
	Paths     []string      // image files and folders
	Command   string        // the command line, recorded
	// Progress, when set, is called after each batch with the candidates
	// done (extracted or skipped, shards already on disk included) and
	// their total.
	Progress func(done, total int) `json:"-"`
}

// Report says what a run did.
type Report struct {
	Batch                          int // images per run: Job.Batch, or less when memory asked for it
	Candidates, Extracted, Skipped int
	Shards, Resumed                int // shards in all, and already on disk
	Elapsed                        time.Duration
}

// ErrDifferentJob: the output folder holds another job's shards.
var ErrDifferentJob = errors.New("extract: the output folder holds a different job")

// candidate is one file to extract.
type candidate struct {
	path  string
	label int32
}

// List lists the files of paths as extract walks them: files as given,
// folders recursively in lexical order without hidden files, with their
// ImageFolder labels (-1 outside a class folder) and the class names.
func List(paths []string) (files []string, labels []int32, classes []string, err error) {
	cands, classes, err := walk(paths, "")
	if err != nil {
		return nil, nil, nil, err
	}
	for _, c := range cands {
		files = append(files, c.path)
		labels = append(labels, c.label)
	}
	return files, labels, classes, nil
}

// walk lists the candidates of paths and the class names.
// A folder named exclude (the job's own output) is left out.
func walk(paths []string, exclude string) ([]candidate, []string, error) {
	classSet := map[string]bool{}
	excl := ""
	if exclude != "" {
		if a, err := filepath.Abs(exclude); err == nil {
			excl = a
		}
	}
	type item struct {
		path  string
		class string // "" outside a class folder
	}
	var items []item
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("extract: %w", err)
		}
		if !st.IsDir() {
			items = append(items, item{p, ""})
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if path != p && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				if a, err := filepath.Abs(path); err == nil && a == excl {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type()&fs.ModeSymlink != 0 {
				// A link to a file is a file (datasets are often split with
				// links); links to folders are not followed.
				if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
					return nil
				}
			} else if !d.Type().IsRegular() {
				return nil
			}
			rel, err := filepath.Rel(p, path)
			if err != nil {
				return err
			}
			class := ""
			if i := strings.IndexRune(rel, filepath.Separator); i > 0 {
				class = rel[:i]
				classSet[class] = true
			}
			items = append(items, item{path, class})
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("extract: walking %s: %w", p, err)
		}
	}
	classes := make([]string, 0, len(classSet))
	for c := range classSet {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	out := make([]candidate, len(items))
	for i, it := range items {
		out[i] = candidate{it.path, -1}
		if it.class != "" {
			out[i].label = int32(sort.SearchStrings(classes, it.class))
		}
	}
	return out, classes, nil
}

// manifest is DIR/manifest.json.
type manifest struct {
	Job        jobKey      `json:"job"`
	Command    string      `json:"command"`
	Classes    int         `json:"classes"`
	Shards     []shardInfo `json:"shards"`
	Candidates int         `json:"candidates"`
	Extracted  int         `json:"extracted"`
	Skipped    int         `json:"skipped"`
	Complete   bool        `json:"complete"`
}

// jobKey is what makes two runs the same job.
type jobKey struct {
	Network       string   `json:"network"`
	WeightsName   string   `json:"weights"`
	WeightsSize   int64    `json:"weights_bytes"`
	WeightsSHA256 string   `json:"weights_sha256"`
	Layers        []string `json:"layers"`
	Pooling       string   `json:"pooling"`
	Size          int      `json:"input_size"`
	Batch         int      `json:"batch"`
	Device        string   `json:"device"`
	Precision     string   `json:"precision,omitempty"`
	Shard         int      `json:"shard_size"`
	Candidates    int      `json:"candidates"`
	ListSHA256    string   `json:"candidates_sha256"`
}

type shardInfo struct {
	File      string `json:"file"`
	First     int    `json:"first_candidate"`
	Images    int    `json:"images"`
	Skipped   int    `json:"skipped"`
	Completed bool   `json:"complete"`
}

// diff names the fields in which two jobs differ.
func (k jobKey) diff(o jobKey) string {
	var d []string
	add := func(name string, a, b any) {
		if fmt.Sprint(a) != fmt.Sprint(b) {
			d = append(d, fmt.Sprintf("%s %v (the folder holds %v)", name, a, b))
		}
	}
	add("network", k.Network, o.Network)
	add("weights", k.WeightsName, o.WeightsName)
	add("weights size", k.WeightsSize, o.WeightsSize)
	add("weights SHA-256", k.WeightsSHA256, o.WeightsSHA256)
	add("layers", k.Layers, o.Layers)
	add("pooling", k.Pooling, o.Pooling)
	add("input size", k.Size, o.Size)
	add("batch", k.Batch, o.Batch)
	add("device", k.Device, o.Device)
	add("precision", k.Precision, o.Precision)
	add("shard size", k.Shard, o.Shard)
	add("candidate files", k.Candidates, o.Candidates)
	if k.Candidates == o.Candidates {
		add("candidate list", k.ListSHA256[:12], o.ListSHA256[:12])
	}
	return strings.Join(d, "; ")
}

func poolName(p graph.Pooling) string {
	return map[graph.Pooling]string{graph.NoPooling: "none", graph.AvgPooling: "avg", graph.MaxPooling: "max"}[p]
}

// key computes the job's identity.
func (j Job) key(cands []candidate) (jobKey, error) {
	// The batch and the device are part of the job: on a GPU the last bits
	// of a feature may depend on them, and a resumed job must write the
	// shards an uninterrupted one would.
	k := jobKey{Network: j.Network, WeightsName: filepath.Base(j.Weights), Layers: j.Layers, Pooling: poolName(j.Pool), Size: j.Size,
		Batch: j.Batch, Device: j.Device, Precision: j.Precision, Shard: j.Shard, Candidates: len(cands)}
	if strings.HasPrefix(j.Weights, "random:") {
		k.WeightsName = j.Weights
	} else {
		f, err := os.Open(j.Weights)
		if err != nil {
			return k, fmt.Errorf("extract: hashing the weights: %w", err)
		}
		defer f.Close()
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return k, fmt.Errorf("extract: hashing the weights: %w", err)
		}
		k.WeightsSize, k.WeightsSHA256 = n, hex.EncodeToString(h.Sum(nil))
	}
	h := sha256.New()
	for _, c := range cands {
		fmt.Fprintf(h, "%s\x00%d\n", c.path, c.label)
	}
	k.ListSHA256 = hex.EncodeToString(h.Sum(nil))
	return k, nil
}

// shardName is the file of shard k.
func shardName(k int) string { return fmt.Sprintf("part-%05d.npz", k) }

// Run extracts the job with net, resuming what an earlier run of the same
// job left in job.Out. It is Prepare, WriteShard for each shard not on
// disk yet, and Finish.
func Run(ctx context.Context, net Runner, job Job) (Report, error) {
	start := time.Now()
	// A batch the memory does not hold is made smaller for a new job; a
	// job already begun keeps its batch (it is part of the job), so the
	// error says which one fits.
	if f, ok := net.(interface {
		Fits(n, h, w int, names ...string) error
	}); ok && job.Size > 0 && job.Batch > 0 {
		err := f.Fits(job.Batch, job.Size, job.Size, job.Layers...)
		var me *graph.MemoryError
		if errors.As(err, &me) && me.MaxBatch >= 1 {
			if _, merr := readManifest(job.Out); errors.Is(merr, fs.ErrNotExist) {
				job.Batch = me.MaxBatch
			} else {
				return Report{}, fmt.Errorf("%w; this job was begun with --batch %d, so remove %s to start again with a smaller batch", err, job.Batch, job.Out)
			}
		} else if err != nil {
			return Report{}, err
		}
	}
	p, err := Prepare(net.Graph(), job)
	if err != nil {
		return Report{}, err
	}
	defer p.Close()
	rep := Report{Candidates: len(p.cands), Shards: len(p.Shards), Batch: job.Batch}
	done := 0
	for _, sh := range p.Shards {
		if sh.Done {
			rep.Resumed++
		} else if err := p.WriteShard(ctx, net, sh.Index, func(n int) {
			if job.Progress != nil {
				job.Progress(done+n, len(p.cands))
			}
		}); err != nil {
			return rep, err
		}
		done += len(sh.Paths)
		if job.Progress != nil {
			job.Progress(done, len(p.cands))
		}
	}
	m, err := p.finish()
	if err != nil {
		return rep, err
	}
	rep.Extracted, rep.Skipped, rep.Elapsed = m.Extracted, m.Skipped, time.Since(start)
	return rep, nil
}

// Plan is a prepared extraction: its candidates split into shards, its
// output folder claimed with a manifest. Package vkvggbeam runs its shards
// on Apache Beam workers.
type Plan struct {
	Job    Job
	Shards []ShardTask
	lock   *os.File // DIR/.lock, held from Prepare to Finish
	cands  []candidate
	key    jobKey
	shapes map[string][]int
	nclass int
}

// ShardTask is one shard: its index, its candidates' paths and labels,
// and whether a complete shard file is already on disk.
type ShardTask struct {
	Index  int
	Paths  []string
	Labels []int32
	Done   bool
}

// Prepare lists the candidates, checks the job against g (names, sizes)
// and against what job.Out holds, and writes the manifest and classes.txt.
// Nothing is decoded or run.
func Prepare(g *graph.Graph, job Job) (*Plan, error) {
	if err := job.check(); err != nil {
		return nil, err
	}
	cands, classes, err := walk(job.Paths, job.Out)
	if err != nil {
		return nil, err
	}
	if len(cands) == 0 {
		return nil, errors.New("extract: no file found in the paths given")
	}
	// Names and sizes are checked before any image is decoded.
	if err := g.CheckRun(job.Batch, job.Size, job.Size, job.Layers...); err != nil {
		return nil, err
	}
	shapes, err := layerShapes(g, job)
	if err != nil {
		return nil, err
	}
	key, err := job.key(cands)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(job.Out, 0o755); err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	if old, err := readManifest(job.Out); err == nil {
		if d := key.diff(old.Job); d != "" {
			return nil, fmt.Errorf("%w: %s; use another --out, or remove %s to start again", ErrDifferentJob, d, job.Out)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	} else if entries, _ := os.ReadDir(job.Out); slices.ContainsFunc(entries, func(e fs.DirEntry) bool { return !strings.HasPrefix(e.Name(), ".") }) {
		return nil, fmt.Errorf("extract: %s is not empty and holds no manifest.json: refusing to write shards there", job.Out)
	}
	lock, err := lockDir(job.Out)
	if err != nil {
		return nil, err
	}
	p := &Plan{Job: job, cands: cands, key: key, shapes: shapes, nclass: len(classes), lock: lock}
	ok := false
	defer func() {
		if !ok {
			p.Close()
		}
	}()
	// The manifest comes first, so that a folder with shards always says
	// which job they belong to; temporary files of a killed run go.
	if err := writeManifest(job.Out, p.manifest()); err != nil {
		return nil, err
	}
	// Temporary files a killed run left go: holding the folder's lock,
	// no other writer is at work.
	if tmps, _ := filepath.Glob(filepath.Join(job.Out, ".tmp-*")); len(tmps) > 0 {
		for _, t := range tmps {
			os.Remove(t)
		}
	}
	if err := writeFile(filepath.Join(job.Out, "classes.txt"), []byte(strings.Join(classes, "\n")+strings.Repeat("\n", min(len(classes), 1)))); err != nil {
		return nil, err
	}
	for k := 0; k*job.Shard < len(cands); k++ {
		lo, hi := k*job.Shard, min(len(cands), (k+1)*job.Shard)
		t := ShardTask{Index: k}
		for _, c := range cands[lo:hi] {
			t.Paths = append(t.Paths, c.path)
			t.Labels = append(t.Labels, c.label)
		}
		path := filepath.Join(job.Out, shardName(k))
		if _, _, err := readShardCounts(path); err == nil {
			t.Done = true
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("extract: %s: %w (remove it to extract it again)", path, err)
		}
		p.Shards = append(p.Shards, t)
	}
	ok = true
	return p, nil
}

// Close releases the output folder; Run and Finish call it.
func (p *Plan) Close() error {
	if p == nil || p.lock == nil {
		return nil
	}
	os.Remove(p.lock.Name())
	err := p.lock.Close() // closing the file releases the lock
	p.lock = nil
	return err
}

func (p *Plan) manifest() manifest {
	return manifest{Job: p.key, Command: p.Job.Command, Classes: p.nclass, Candidates: len(p.cands)}
}

// WriteShard decodes, runs and writes shard k. progress gets the number of
// the shard's candidates done so far.
func (p *Plan) WriteShard(ctx context.Context, net Runner, k int, progress func(int)) error {
	if k < 0 || k >= len(p.Shards) {
		return fmt.Errorf("extract: no shard %d", k)
	}
	return WriteShardTask(ctx, net, p.Job, p.shapes, p.Shards[k], progress)
}

// Shapes is each requested layer's shape per image, for WriteShardTask.
func (p *Plan) Shapes() map[string][]int { return p.shapes }

// WriteShardTask decodes, runs and writes one shard of job; it is what a
// Beam worker runs. shapes comes from Plan.Shapes.
func WriteShardTask(ctx context.Context, net Runner, job Job, shapes map[string][]int, t ShardTask, progress func(int)) error {
	if len(t.Paths) != len(t.Labels) {
		return fmt.Errorf("extract: shard %d: %d paths and %d labels", t.Index, len(t.Paths), len(t.Labels))
	}
	cands := make([]candidate, len(t.Paths))
	for i := range cands {
		cands[i] = candidate{t.Paths[i], t.Labels[i]}
	}
	if progress == nil {
		progress = func(int) {}
	}
	return extractShard(ctx, net, job, cands, shapes, filepath.Join(job.Out, shardName(t.Index)), progress)
}

// Finish reads the shards back and writes skipped.tsv and the final
// manifest; every shard must be on disk. The report counts the images.
func (p *Plan) Finish() (Report, error) {
	defer p.Close()
	m, err := p.finish()
	return Report{Candidates: len(p.cands), Extracted: m.Extracted, Skipped: m.Skipped, Shards: len(m.Shards)}, err
}

func (p *Plan) finish() (manifest, error) {
	m := p.manifest()
	for _, sh := range p.Shards {
		path := filepath.Join(p.Job.Out, shardName(sh.Index))
		sk, n, err := readShardCounts(path)
		if err != nil {
			return m, fmt.Errorf("extract: shard %d: %w", sh.Index, err)
		}
		m.Shards = append(m.Shards, shardInfo{File: shardName(sh.Index), First: sh.Index * p.Job.Shard, Images: n, Skipped: sk, Completed: true})
		m.Extracted += n
		m.Skipped += sk
	}
	if err := writeSkipped(p.Job.Out, m.Shards); err != nil {
		return m, err
	}
	m.Complete = true
	return m, writeManifest(p.Job.Out, m)
}

func (j *Job) check() error {
	if j.Shard == 0 {
		j.Shard = 1024
	}
	switch {
	case len(j.Layers) == 0:
		return errors.New("extract: no layer requested")
	case j.Size < 1:
		return fmt.Errorf("extract: input size %d: must be at least 1", j.Size)
	case j.Batch < 1 || j.Shard < 1:
		return fmt.Errorf("extract: batch %d and shard %d must be at least 1", j.Batch, j.Shard)
	case j.Out == "":
		return errors.New("extract: no output folder")
	case len(j.Paths) == 0:
		return errors.New("extract: no path given")
	}
	if st, err := os.Stat(j.Out); err == nil && !st.IsDir() {
		return fmt.Errorf("extract: --out %s is a file, not a folder", j.Out)
	}
	return nil
}

// layerShapes is each layer's shape per image ([H,W,C] or [F]).
func layerShapes(g *graph.Graph, job Job) (map[string][]int, error) {
	infos, err := g.Layers(1, job.Size, job.Size)
	if err != nil && len(infos) == 0 {
		return nil, err
	}
	out := map[string][]int{}
	for _, l := range infos {
		s := l.Shape[1:]
		if job.Pool != graph.NoPooling && len(s) == 3 {
			s = s[2:]
		}
		out[l.Name] = s
	}
	for _, name := range job.Layers {
		if _, ok := out[name]; !ok {
			return nil, fmt.Errorf("extract: no shape for layer %s", name)
		}
	}
	return out, nil
}

// decoded is one candidate after decoding.
type decoded struct {
	img images.RGB
	err error
}

// extractShard decodes and runs the candidates of one shard and writes it.
// Decoding runs ahead of the network by one batch, on every CPU.
func extractShard(ctx context.Context, net Runner, job Job, cands []candidate, shapes map[string][]int, path string, progress func(int)) error {
	type batch struct {
		idx  []int // candidates in this batch that decoded
		imgs []images.RGB
		errs map[int]error
		end  int // candidates consumed up to here
	}
	batches := make(chan batch, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(batches)
		for lo := 0; lo < len(cands); {
			// Take candidates until Batch of them decode (or the shard ends).
			b := batch{errs: map[int]error{}}
			for len(b.idx) < job.Batch && lo < len(cands) {
				n := min(job.Batch-len(b.idx), len(cands)-lo)
				res := decodeAll(cands[lo:lo+n], job.Size)
				for i, r := range res {
					if r.err != nil {
						b.errs[lo+i] = r.err
					} else {
						b.idx = append(b.idx, lo+i)
						b.imgs = append(b.imgs, r.img)
					}
				}
				lo += n
			}
			b.end = lo
			select {
			case batches <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	feats := map[string][]float32{}
	var paths, skipped, reasons []string
	var labels []int32
	prev := 0
	for b := range batches {
		for i := prev; i < b.end; i++ {
			if err, ok := b.errs[i]; ok {
				skipped = append(skipped, cands[i].path)
				reasons = append(reasons, oneLine(err))
			}
		}
		prev = b.end
		if len(b.idx) > 0 {
			shape, data, err := images.Batch(b.imgs)
			if err != nil {
				return err
			}
			res, err := net.RunPooled(ctx, graph.Batch{N: shape[0], H: shape[1], W: shape[2], Data: data}, job.Pool, job.Layers...)
			if err != nil {
				return err
			}
			for _, name := range job.Layers {
				f, _ := res.Feature(name)
				feats[name] = append(feats[name], f.Data...)
			}
			for _, i := range b.idx {
				paths = append(paths, cands[i].path)
				labels = append(labels, cands[i].label)
			}
		}
		progress(b.end)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	members := make([]npy.Member, 0, len(job.Layers)+4)
	for _, name := range job.Layers {
		shape := append([]int{len(paths)}, shapes[name]...)
		data := feats[name]
		if data == nil {
			data = []float32{}
		}
		members = append(members, npy.Member{Name: name, Shape: shape, Float32: data})
	}
	if paths == nil {
		paths, labels = []string{}, []int32{}
	}
	if skipped == nil {
		skipped, reasons = []string{}, []string{}
	}
	members = append(members,
		npy.Member{Name: "paths", Shape: []int{len(paths)}, Unicode: paths},
		npy.Member{Name: "labels", Shape: []int{len(labels)}, Int32: labels},
		npy.Member{Name: "skipped", Shape: []int{len(skipped)}, Unicode: skipped},
		npy.Member{Name: "skipped_reason", Shape: []int{len(reasons)}, Unicode: reasons},
	)
	// A temporary name of its own: two writers of one shard (a retried
	// Beam bundle) never write into each other's file.
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	tmp := f.Name()
	f.Close()
	if err := npy.WriteNPZMembers(tmp, members); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("extract: %w", err)
	}
	return nil
}

// decodeAll decodes candidates on every CPU, in order.
func decodeAll(cands []candidate, size int) []decoded {
	out := make([]decoded, len(cands))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, c := range cands {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i].img, out[i].err = images.LoadVGG(c.path, size)
		}()
	}
	wg.Wait()
	return out
}

// oneLine makes an error fit a TSV field.
func oneLine(err error) string {
	return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(err.Error())
}

// readShardCounts reads a finished shard's image and skipped counts.
func readShardCounts(path string) (skipped, images int, err error) {
	if _, err := os.Stat(path); err != nil {
		return 0, 0, err
	}
	shapes, err := npy.NPZShapes(path)
	if err != nil {
		return 0, 0, err
	}
	p, s := shapes["paths"], shapes["skipped"]
	if len(p) != 1 || len(s) != 1 {
		return 0, 0, fmt.Errorf("extract: %s holds no paths or skipped array", path)
	}
	return s[0], p[0], nil
}

// writeSkipped writes skipped.tsv from the shards.
func writeSkipped(dir string, shards []shardInfo) error {
	var sb strings.Builder
	sb.WriteString("path\treason\n")
	for _, s := range shards {
		if s.Skipped == 0 {
			continue
		}
		ms, err := npy.ReadNPZMembers(filepath.Join(dir, s.File), "skipped", "skipped_reason")
		if err != nil {
			return err
		}
		var paths, reasons []string
		for _, m := range ms {
			switch m.Name {
			case "skipped":
				paths = m.Unicode
			case "skipped_reason":
				reasons = m.Unicode
			}
		}
		for i := range paths {
			r := ""
			if i < len(reasons) {
				r = reasons[i]
			}
			fmt.Fprintf(&sb, "%s\t%s\n", paths[i], r)
		}
	}
	return writeFile(filepath.Join(dir, "skipped.tsv"), []byte(sb.String()))
}

func readManifest(dir string) (manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return manifest{}, err
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return manifest{}, fmt.Errorf("extract: %s/manifest.json: %w", dir, err)
	}
	return m, nil
}

func writeManifest(dir string, m manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "manifest.json"), append(b, '\n'))
}

// writeFile writes through a temporary file and a rename, so that a
// reader never sees half a file.
func writeFile(path string, b []byte) error {
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("extract: %w", err)
	}
	return nil
}
