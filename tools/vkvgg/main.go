// Command vkvgg runs pretrained networks (tensorflow-vgg VGG16/VGG19
// weight files, torchvision VGG, AlexNet and ResNet state dicts) on any
// Vulkan device, or on the pure-Go CPU reference.
//
// Usage:
//
//	vkvgg devices
//	vkvgg layers   --weights W [--size S] [--fcn]
//	vkvgg classify --weights W [--device D] [--batch B] [--top K] IMAGE...|FOLDER
//	vkvgg features --weights W (--input X.npy | IMAGE...|FOLDER) --layers a,b,... --out F.npz
//	                [--pool avg|max] [--fcn] [--size S] [--device D] [--batch B]
//	vkvgg grid     --weights W --layer L [--out grid.png] [--heatmap heat.png] [--channels 0-63] [--size S] IMAGE
//	vkvgg view     --weights W [--layer L] [--size S] [--frames N --screenshot s.png] IMAGE...|FOLDER
//	vkvgg extract  --weights W --layers a,b,... --out DIR [--pool avg|max] [--size S] [--batch B] [--shard N] PATH...
//	vkvgg train    --features DIR [--layer L] --head linear|mlp [--hidden H] [--epochs E] [--val 0.2] --out head.npz [--plot curves.png]
//	vkvgg predict  --weights W --head head.npz [--out preds.csv] IMAGE...|FOLDER
//	vkvgg validate --weights W (--input X.npy | IMAGE...|FOLDER) [--layers a,b,...] [--tol T] [--device D]
//	vkvgg bench    --weights W [--device D] [--batches 1,8] [--iters N] [--size S] [--profile]
//
// W is a .npy/.npz (tensorflow-vgg) or .pth (torchvision) weight file, or
// random:NAME for built-in random weights (results then mean nothing;
// vkvgg says so). D is cpu, a device index from "vkvgg devices", or a
// name substring; the default is $VKVGG_DEVICE where set, else the best
// Vulkan device, and the CPU reference, with a warning, where there is
// none. VKVGG_VALIDATION=1 turns on the Khronos validation layer;
// VKVGG_KERNELS, VKVGG_WINOGRAD and VKVGG_SUBGROUPS choose among the
// kernels (layers.KernelOptionsFromEnv).
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vkvgg/vkvgg/extract"
	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/images"
	"github.com/vkvgg/vkvgg/internal/parallel"
	"github.com/vkvgg/vkvgg/layers"
	"github.com/vkvgg/vkvgg/models"
	"github.com/vkvgg/vkvgg/npy"
	"github.com/vkvgg/vkvgg/synset"
)

func main() {
	// SIGINT and SIGTERM cancel the run: the network stops between
	// submissions, temporary files are removed, and the exit status is
	// the shell's usual 128 + signal.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "vkvgg: interrupted")
			os.Exit(130)
		}
		fmt.Fprintln(os.Stderr, "vkvgg:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  vkvgg devices
  vkvgg layers   --weights W [--size S] [--fcn]
  vkvgg classify --weights W [--device D] [--batch B] [--top K] IMAGE...|FOLDER
  vkvgg features --weights W (--input X.npy | IMAGE...|FOLDER) --layers a,b,... --out F.npz [--pool avg|max] [--fcn] [--size S] [--device D] [--batch B]
  vkvgg grid     --weights W --layer L [--out grid.png] [--heatmap heat.png] [--channels 0-63] [--size S] IMAGE
  vkvgg view     --weights W [--layer L] [--size S] [--frames N --screenshot s.png] IMAGE...|FOLDER
  vkvgg extract  --weights W --layers a,b,... --out DIR [--pool avg|max] [--size S] [--batch B] [--shard N] PATH...
  vkvgg train    --features DIR [--layer L] --head linear|mlp [--hidden H] [--epochs E] [--val 0.2] --out head.npz [--plot curves.png]
  vkvgg predict  --weights W --head head.npz [--out preds.csv] IMAGE...|FOLDER
  vkvgg validate --weights W (--input X.npy | IMAGE...|FOLDER) [--layers a,b,...] [--tol T] [--device D]
  vkvgg bench    --weights W [--device D] [--batches 1,8] [--iters N] [--size S] [--profile]
  vkvgg tune     --weights W [--device D] [--batches 1,8] [--size S] [--precision P] [--rounds N]
W: a tensorflow-vgg .npy/.npz file, a torchvision .pth state dict, or random:NAME
   (random:vgg16, random:vgg19, random:alexnet, random:resnet18 ... random:resnet152,
   random:torchvision-vgg16)
D: cpu, a device index or name substring (default: the best Vulkan device, else the CPU)
vkvgg COMMAND -h lists a command's flags`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "devices":
		return devices(stdout)
	case "classify":
		return classify(ctx, args[1:], stdout, stderr)
	case "features":
		return features(ctx, args[1:], stdout, stderr)
	case "layers":
		return layersCmd(args[1:], stdout, stderr)
	case "extract":
		return extractCmd(ctx, args[1:], stdout, stderr)
	case "train":
		return trainCmd(args[1:], stdout, stderr)
	case "view":
		return viewCmd(ctx, args[1:], stdout, stderr)
	case "grid", "maps":
		return gridCmd(ctx, args[0], args[1:], stdout, stderr)
	case "predict":
		return predictCmd(ctx, args[1:], stdout, stderr)
	case "validate":
		return validate(ctx, args[1:], stdout, stderr)
	case "bench":
		return bench(ctx, args[1:], stdout, stderr)
	case "tune":
		return tuneCmd(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q (commands: devices, layers, classify, features, grid, view, extract, train, predict, validate, bench, tune; vkvgg help for usage)", args[0])
}

func devices(w io.Writer) error {
	devs, err := gpu.Devices()
	if err != nil {
		return err
	}
	if len(devs) == 0 {
		return gpu.ErrNoDevice
	}
	for _, d := range devs {
		fmt.Fprintf(w, "%d: %s\n", d.Index, d.Name)
		fmt.Fprintf(w, "   type %s, Vulkan %s, driver %s\n", d.Type, d.APIVersion, orDash(d.Driver))
		fmt.Fprintf(w, "   device-local memory %s, maxStorageBufferRange %s, shared memory %d KiB\n",
			mib(d.DeviceLocalBytes), mib(d.MaxStorageBufferRange), d.MaxSharedMemory/1024)
		fmt.Fprintf(w, "   subgroup size %d, max workgroup %d, fp16 arithmetic %v, 16-bit storage %v, fp16 texels %v, unified memory %v\n",
			d.SubgroupSize, d.MaxWorkgroupSize, d.FP16, d.Storage16Bit, d.HalfTexels, d.UnifiedMemory)
		fmt.Fprintf(w, "   cooperative matrices (tensor cores, unused yet): %s\n", orDash(strings.Join(d.CooperativeMatrix, ", ")))
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// checkOut refuses an output path (flag of command cmd) that is a
// directory, before any work; "" is no path.
func checkOut(cmd, flag, path string) error {
	if st, err := os.Stat(path); path != "" && err == nil && st.IsDir() {
		return fmt.Errorf("%s: %s %s is a directory", cmd, flag, path)
	}
	return nil
}

func mib(b uint64) string { return fmt.Sprintf("%d MiB", b>>20) }

// common flags of the commands that run a network.
type netFlags struct {
	weights   string
	device    string
	batch     int
	fcn       bool
	precision string
	prec      layers.Precision     // parsed by check
	kernels   layers.KernelOptions // from the environment, by check
	retune    bool                 // tune: time every choice again
	rounds    int                  // tune: timed rounds per candidate
}

func (f *netFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.weights, "weights", "", "weight file (.npy/.npz tensorflow-vgg, .pth torchvision) or random:NAME")
	fs.StringVar(&f.device, "device", "", "auto, cpu, a device index or a name substring (default auto: the best Vulkan device, else the CPU reference)")
	fs.IntVar(&f.batch, "batch", 8, "images per run")
	fs.BoolVar(&f.fcn, "fcn", false, "tensorflow-vgg: run fc6-fc8 as convolutions (score maps for inputs larger than 224)")
	fs.StringVar(&f.precision, "precision", "fp32", "fp32, or fp16: weights and activations stored as 16-bit floats on the device (fp32 arithmetic); bench takes a list (fp32,fp16)")
}

func (f *netFlags) check() error {
	if f.weights == "" {
		return errors.New("--weights is required (a .npy/.npz/.pth file, or random:vgg16)")
	}
	if f.batch < 1 {
		return fmt.Errorf("--batch %d: must be at least 1", f.batch)
	}
	p, err := layers.ParsePrecision(f.precision)
	if err != nil {
		return fmt.Errorf("--precision: %w", err)
	}
	f.prec = p
	if f.kernels, err = layers.KernelOptionsFromEnv(os.Getenv); err != nil {
		return err
	}
	return nil
}

// options are the models.Options of the flags and the environment: the
// device (--device, else $VKVGG_DEVICE, else auto), validation
// ($VKVGG_VALIDATION=1), the pipeline cache, the precision and the
// kernels (f.check first).
func (f *netFlags) options() models.Options {
	dev := f.device
	if dev == "" {
		dev = os.Getenv(gpu.EnvDevice)
	}
	if dev == "" {
		dev = models.DeviceAuto
	}
	k := f.kernels
	k.Retune, k.TuneRounds = f.retune, f.rounds
	return models.Options{Device: dev, Validation: os.Getenv(gpu.EnvValidation) == "1", PipelineCache: pipelineCacheDir(),
		Precision: f.prec, Kernels: k}
}

// open loads the network; check, when not nil, runs on its graph before
// the weights go to the device (names and input sizes).
func (f *netFlags) open(stderr io.Writer, check func(g *graph.Graph) error) (*models.Net, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	start := time.Now()
	opts := f.options()
	opts.FCN, opts.Check = f.fcn, check
	net, err := models.Load(f.weights, opts)
	if err != nil {
		return nil, err
	}
	if net.Fallback != nil {
		fmt.Fprintf(stderr, "vkvgg: WARNING: %v; running on the CPU reference instead (slow; --device cpu says so and silences this)\n", net.Fallback)
	}
	if lim := os.Getenv(EnvMemoryLimit); lim != "" {
		bytes, err := parseBytes(lim)
		if err != nil {
			net.Close()
			return nil, fmt.Errorf("%s=%q: %w", EnvMemoryLimit, lim, err)
		}
		net.SetMemoryLimit(bytes)
	}
	if net.Random {
		fmt.Fprintf(stderr, "vkvgg: WARNING: %s: the weights are RANDOM, so classes and features mean nothing\n", f.weights)
	}
	where := "CPU reference"
	if d := net.Device(); d != nil {
		where = d.Info().Name
		if net.Precision() != layers.FP32 {
			where += ", " + net.Precision().String()
		}
	}
	fmt.Fprintf(stderr, "vkvgg: %s, %d classes, on %s (loaded in %.2f s)\n", net.Name, net.Classes, where, time.Since(start).Seconds())
	return net, nil
}

// EnvPipelineCache is the folder of the pipeline cache, or "off"; by
// default vkvgg/ in the user's cache directory ($XDG_CACHE_HOME or
// ~/.cache).
const EnvPipelineCache = "VKVGG_PIPELINE_CACHE"

// pipelineCacheDir is where the command keeps compiled pipelines, or ""
// for none.
func pipelineCacheDir() string {
	switch v := os.Getenv(EnvPipelineCache); v {
	case "off", "none":
		return ""
	case "":
		dir, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		return filepath.Join(dir, "vkvgg")
	default:
		return v
	}
}

// EnvMemoryLimit bounds the activation memory of a run, in bytes with an
// optional K, M or G suffix (powers of 1024); a batch that needs more is
// split into batches that fit.
const EnvMemoryLimit = "VKVGG_MEMORY_LIMIT"

// parseBytes reads "512M", "2G", "1048576".
func parseBytes(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 1 || v > (1<<62)/mult {
		return 0, errors.New("want a positive number of bytes, with an optional K, M or G suffix")
	}
	return v * mult, nil
}

// errHelp ends a command that printed its flags for -h.
var errHelp = errors.New("help printed")

func parse(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintf(stdout, "usage of vkvgg %s:\n", fs.Name())
			fs.PrintDefaults()
			return errHelp
		}
		return fmt.Errorf("%s: %v (vkvgg %s -h lists its flags)", fs.Name(), err, fs.Name())
	}
	return nil
}

// helped turns errHelp into success.
func helped(err error) error {
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

func classify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("classify", flag.ContinueOnError)
	var nf netFlags
	nf.register(fs)
	top := fs.Int("top", 5, "classes to print per image")
	if err := parse(fs, args, stdout); err != nil {
		return helped(err)
	}
	if len(fs.Args()) == 0 {
		return errors.New("classify: no image given")
	}
	if *top < 1 {
		return fmt.Errorf("--top %d: must be at least 1", *top)
	}
	in, err := openInputs("classify", "", fs.Args(), 224)
	if err != nil {
		return err
	}
	paths := in.paths
	net, err := nf.open(stderr, func(g *graph.Graph) error { return g.CheckRun(1, 224, 224, "prob") })
	if err != nil {
		return err
	}
	defer net.Close()
	for i := 0; i < in.n; i += nf.batch {
		j := min(in.n, i+nf.batch)
		b, err := in.batch(i, j)
		if err != nil {
			return err
		}
		res, err := net.Run(ctx, b, "prob")
		if err != nil {
			return err
		}
		prob, _ := res.Feature("prob")
		if len(prob.Shape) != 2 {
			return fmt.Errorf("classify: prob has shape %v (a score map): classify takes images of the network's own size; use features for score maps", prob.Shape)
		}
		classes := prob.Shape[1]
		for k := range j - i {
			p := prob.Data[k*classes : (k+1)*classes]
			fmt.Fprintf(stdout, "%s:\n", paths[i+k])
			if classes != synset.Count() {
				// A fine-tuned network: its classes have no ImageNet names.
				for _, c := range topK(p, *top) {
					fmt.Fprintf(stdout, "  %.4f  class %d\n", p[c], c)
				}
				continue
			}
			preds, err := synset.TopK(p, *top)
			if err != nil {
				return err
			}
			for _, p := range preds {
				fmt.Fprintf(stdout, "  %.4f  %-10s %s\n", p.Prob, p.WNID, p.Name)
			}
		}
	}
	return nil
}

// imageExts are the extensions imageFiles takes from folders.
var imageExts = []string{".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp"}

// imageFiles expands the folders among args into the image files they
// hold (recursively, in lexical order, as extract walks them; other files
// such as READMEs are left out), and keeps files named as they are.
func imageFiles(what string, args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		if st, err := os.Stat(a); err != nil || !st.IsDir() {
			files = append(files, a) // a missing file fails where it is read, by name
			continue
		}
		all, _, _, err := extract.List([]string{a})
		if err != nil {
			return nil, err
		}
		n := len(files)
		for _, f := range all {
			if slices.Contains(imageExts, strings.ToLower(filepath.Ext(f))) {
				files = append(files, f)
			}
		}
		if len(files) == n {
			return nil, fmt.Errorf("%s: no image files (%s) in %s", what, strings.Join(imageExts, " "), a)
		}
	}
	return files, nil
}

// loadImages decodes images on every core; size > 0 centre-crops and
// resizes like tensorflow-vgg's load_image, 0 keeps each image's own
// size. The error is that of the first image that fails, in order.
func loadImages(paths []string, size int) ([]images.RGB, error) {
	out := make([]images.RGB, len(paths))
	errs := make([]error, len(paths))
	parallel.For(len(paths), func(i int) {
		if size > 0 {
			out[i], errs[i] = images.LoadVGG(paths[i], size)
		} else {
			out[i], errs[i] = images.Load(paths[i])
		}
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func batchOf(imgs []images.RGB) (graph.Batch, error) {
	shape, data, err := images.Batch(imgs)
	if err != nil {
		return graph.Batch{}, err
	}
	return graph.Batch{N: shape[0], H: shape[1], W: shape[2], Data: data}, nil
}

// topK returns the indices of the k largest values.
func topK(p []float32, k int) []int {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] > p[idx[b]] })
	return idx[:min(k, len(idx))]
}

func features(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("features", flag.ContinueOnError)
	var nf netFlags
	nf.register(fs)
	input := fs.String("input", "", "a float32 [N,H,W,3] .npy of RGB values in [0,1]")
	layerList := fs.String("layers", "", "comma-separated layer names, e.g. pool5,fc7")
	out := fs.String("out", "", "the .npz to write")
	size := fs.Int("size", 224, "images: centre-crop and resize to SIZE x SIZE; 0 keeps their own size")
	poolFlag := fs.String("pool", "", "avg or max: return each map pooled over height and width, [N,C]")
	if err := parse(fs, args, stdout); err != nil {
		return helped(err)
	}
	pool, err := graph.ParsePooling(*poolFlag)
	if err != nil {
		return fmt.Errorf("--pool: %w", err)
	}
	if *out == "" {
		return errors.New("features: --out is required")
	}
	if *layerList == "" {
		return errors.New("features: --layers is required (e.g. --layers pool5,fc7; vkvgg layers lists them)")
	}
	names, err := layerNames(*layerList)
	if err != nil {
		return err
	}
	if slices.Contains(names, pathsMember) {
		return fmt.Errorf("features: a layer named %q would clash with the list of image files the output holds under that name", pathsMember)
	}
	if err := checkOut("features", "--out", *out); err != nil {
		return err
	}
	if (*input == "") == (len(fs.Args()) == 0) {
		return errors.New("features: give either --input X.npy or image files")
	}
	if *size < 0 {
		return fmt.Errorf("--size %d: must be 0 or positive", *size)
	}
	all, err := openInputs("features", *input, fs.Args(), *size)
	if err != nil {
		return err
	}
	// Check that the output can be written before the work, without
	// touching an existing file: the result goes to a temporary file in
	// the same folder, renamed over --out at the end.
	tmp, err := os.CreateTemp(filepath.Dir(*out), ".vkvgg-*.npz")
	if err != nil {
		return fmt.Errorf("cannot write the output: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	// Names and sizes are checked once the file is read, before the
	// weights go to the device.
	net, err := nf.open(stderr, func(g *graph.Graph) error { return g.CheckRun(min(nf.batch, all.n), all.h, all.w, names...) })
	if err != nil {
		return err
	}
	defer net.Close()
	collected := map[string][]float32{}
	shapes := map[string][]int{}
	var order []string
	start := time.Now()
	var prog *progress // more than one batch: the progress, as extract shows it
	if all.n > nf.batch {
		prog = newProgress(stderr, "features")
	}
	batch, err := runAll(ctx, net, all, nf.batch, pool, names, stderr, func(i0 int, res *graph.Result) error {
		order = res.Names()
		done := i0
		for _, name := range order {
			ft, _ := res.Feature(name)
			collected[name] = append(collected[name], ft.Data...)
			shapes[name] = append([]int{all.n}, ft.Shape[1:]...)
			done = i0 + ft.Shape[0]
		}
		if prog != nil {
			prog.update(done, all.n)
		}
		return nil
	})
	if prog != nil {
		prog.finish()
	}
	if err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Fprintf(stderr, "vkvgg: %d images of %dx%d in %.1f ms (%.1f ms per image, batch %d)\n",
		all.n, all.h, all.w, float64(el.Microseconds())/1000, float64(el.Microseconds())/1000/float64(all.n), batch)
	members := make([]npy.Member, len(order))
	for i, name := range order {
		members[i] = npy.Member{Name: name, Shape: shapes[name], Float32: collected[name]}
	}
	if all.paths != nil { // which image each row is
		members = append(members, npy.Member{Name: pathsMember, Shape: []int{len(all.paths)}, Unicode: all.paths})
	}
	if err := npy.WriteNPZMembers(tmp.Name(), members); err != nil {
		return err
	}
	// CreateTemp makes the file private; the result is an ordinary file.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return fmt.Errorf("cannot write the output: %w", err)
	}
	for _, m := range members {
		fmt.Fprintf(stdout, "%s %v\n", m.Name, m.Shape)
	}
	return nil
}

// pathsMember is the .npz member in which features lists its image
// files, one per row of every layer's array.
const pathsMember = "paths"

// runAll runs the inputs in chunks of at most batch images, calling each
// with the first image of the chunk and its result, and returns the
// batch size it ended with: a chunk that needs more memory than there is
// (a graph.MemoryError) is split into the largest batches that fit, with
// a note on stderr.
func runAll(ctx context.Context, net *models.Net, all *inputs, batch int, pool graph.Pooling, names []string, stderr io.Writer,
	each func(i0 int, res *graph.Result) error) (int, error) {
	for i := 0; i < all.n; {
		decoded, err := all.batch(i, min(all.n, i+batch))
		if err != nil {
			return batch, err
		}
		// The decoded images in batches of the current size (smaller
		// after a memory error, without decoding them again).
		img := decoded.H * decoded.W * 3
		for k := 0; k < decoded.N; {
			m := min(decoded.N, k+batch)
			b := graph.Batch{N: m - k, H: decoded.H, W: decoded.W, Data: decoded.Data[k*img : m*img]}
			res, err := net.RunPooled(ctx, b, pool, names...)
			var me *graph.MemoryError
			if errors.As(err, &me) && me.MaxBatch >= 1 && me.MaxBatch < b.N {
				fmt.Fprintf(stderr, "vkvgg: %v; running batches of %d\n", err, me.MaxBatch)
				batch = me.MaxBatch
				continue
			}
			if err != nil {
				return batch, err
			}
			if err := each(i+k, res); err != nil {
				return batch, err
			}
			k = m
		}
		i += decoded.N
	}
	return batch, nil
}

// layerNames splits a --layers list; the network checks the names
// before any work.
func layerNames(list string) ([]string, error) {
	var names []string
	for _, name := range strings.Split(list, ",") {
		if name = strings.TrimSpace(name); name == "" {
			return nil, fmt.Errorf("--layers %q: an empty name", list)
		}
		names = append(names, name)
	}
	return names, nil
}

// inputs are the images a command runs: a float32 [N,H,W,3] .npy, or
// image files decoded a batch at a time, so that a folder of photos is
// never all in memory at once.
type inputs struct {
	n, h, w int
	paths   []string                            // the image files (nil for an .npy)
	batch   func(i, j int) (graph.Batch, error) // images [i, j)
}

// openInputs opens the input of what: the .npy input, or the images of
// args, folders expanded by imageFiles (size > 0 centre-crops and
// resizes them, 0 keeps their own size, which must then be the first
// image's for all). The .npy's values and every image's header are
// checked before any work; the images are decoded a batch at a time as
// they run.
func openInputs(what, input string, args []string, size int) (*inputs, error) {
	if input != "" {
		a, err := npy.ReadNPYFile(input)
		if err != nil {
			return nil, err
		}
		if len(a.Shape) != 4 || a.Shape[3] != 3 {
			return nil, fmt.Errorf("%s: shape %v, want [N,H,W,3] (RGB in [0,1], as tensorflow-vgg's build takes)", input, a.Shape)
		}
		if a.Shape[0] < 1 {
			return nil, fmt.Errorf("%s: the input holds no image", input)
		}
		all := graph.Batch{N: a.Shape[0], H: a.Shape[1], W: a.Shape[2], Data: a.Data}
		// Values are checked before any weights are read.
		if err := graph.CheckBatch(all); err != nil {
			return nil, fmt.Errorf("%s: %w", input, err)
		}
		img := all.H * all.W * 3
		return &inputs{n: all.N, h: all.H, w: all.W, batch: func(i, j int) (graph.Batch, error) {
			return graph.Batch{N: j - i, H: all.H, W: all.W, Data: all.Data[i*img : j*img]}, nil
		}}, nil
	}
	paths, err := imageFiles(what, args)
	if err != nil {
		return nil, err
	}
	// Every file's header is read now (no pixels): a missing file, one
	// that is no image, or with --size 0 one of another size than the
	// first fails before any work.
	in := &inputs{n: len(paths), h: size, w: size, paths: paths}
	for i, p := range paths {
		w, h, err := images.Size(p)
		if err != nil {
			return nil, err
		}
		if size > 0 {
			continue
		}
		if i == 0 {
			in.h, in.w = h, w
		} else if h != in.h || w != in.w {
			return nil, sizeErr(what, p, w, h, paths[0], in.w, in.h)
		}
	}
	in.batch = func(i, j int) (graph.Batch, error) {
		imgs, err := loadImages(paths[i:j], size)
		if err != nil {
			return graph.Batch{}, err
		}
		for k, m := range imgs {
			if m.H != in.h || m.W != in.w { // a GIF's first frame smaller than its screen
				return graph.Batch{}, sizeErr(what, paths[i+k], m.W, m.H, paths[0], in.w, in.h)
			}
		}
		return batchOf(imgs)
	}
	return in, nil
}

// sizeErr is the error for an image of another size than the first with
// --size 0.
func sizeErr(what, path string, w, h int, first string, fw, fh int) error {
	return fmt.Errorf("%s: %s is %dx%d, %s %dx%d: with --size 0 every image must have the same size", what, path, w, h, first, fw, fh)
}

// readInput is the whole input of what as one batch (openInputs).
func readInput(what, input string, args []string, size int) (graph.Batch, error) {
	in, err := openInputs(what, input, args, size)
	if err != nil {
		return graph.Batch{}, err
	}
	return in.batch(0, in.n)
}

// syntheticBatch is the input bench and tune run: n images of size x
// size with values spread over [0, 1].
func syntheticBatch(n, size int) graph.Batch {
	b := graph.Batch{N: n, H: size, W: size, Data: make([]float32, n*size*size*3)}
	for i := range b.Data {
		b.Data[i] = float32(i%251) / 250
	}
	return b
}

// parseBatches reads --batches, a list of batch sizes of size x size
// images.
func parseBatches(list string, size int) ([]int, error) {
	var sizes []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--batches: %q is not a batch size", s)
		}
		if float64(n)*float64(size)*float64(size)*3 >= 1<<31 {
			return nil, fmt.Errorf("--batches %d with --size %d: an input of 2^31 values or more", n, size)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

func bench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var nf netFlags
	nf.register(fs)
	batches := fs.String("batches", "1,8", "comma-separated batch sizes")
	iters := fs.Int("iters", 3, "timed runs per batch size (after one warm-up); 0 only loads the weights")
	size := fs.Int("size", 224, "input size")
	layerList := fs.String("layers", "prob", "layers to read back")
	profile := fs.Bool("profile", false, "print the GPU time of every dispatch of the last run")
	if err := parse(fs, args, stdout); err != nil {
		return helped(err)
	}
	if *iters < 0 || *size < 1 {
		return errors.New("bench: --iters must be at least 0 and --size at least 1")
	}
	names, err := layerNames(*layerList)
	if err != nil {
		return err
	}
	sizes, err := parseBatches(*batches, *size)
	if err != nil {
		return err
	}
	// Each precision of the list gets a Net of its own, all loaded
	// before any timing, and each batch size is timed on each in turn,
	// round after round, so that they share the machine's moods.
	var nets []*models.Net
	defer func() {
		for _, n := range nets {
			n.Close()
		}
	}()
	for _, p := range strings.Split(nf.precision, ",") {
		nf.precision = p
		net, err := nf.open(stderr, func(g *graph.Graph) error { return g.CheckRun(sizes[0], *size, *size, names...) })
		if err != nil {
			return err
		}
		nets = append(nets, net)
	}
	if *iters == 0 {
		return nil
	}
	net := nets[0]
	where := "the CPU reference"
	if d := net.Device(); d != nil {
		where = d.Info().Name
	}
	for i, n := range sizes {
		b := syntheticBatch(n, *size)
		plan, err := net.Plan(b, names...)
		if err != nil {
			return err
		}
		if i == 0 {
			fmt.Fprintf(stdout, "%s on %s, %dx%d, %.2f GFLOP per image\n", net.Name, where, *size, *size, plan.FLOPs/float64(n)/1e9)
		}
		secs := make([]float64, len(nets))
		for _, m := range nets {
			if _, err := m.Run(ctx, b, names...); err != nil { // warm-up (and, the first time, tuning)
				return err
			}
		}
		for range *iters {
			for j, m := range nets {
				start := time.Now()
				if _, err := m.Run(ctx, b, names...); err != nil {
					return err
				}
				secs[j] += time.Since(start).Seconds() / float64(*iters)
			}
		}
		for j, m := range nets {
			per := secs[j] * 1000 / float64(n)
			fmt.Fprintf(stdout, "batch %d, %s: %.1f ms per image (%.1f images/s, %.1f GFLOP/s)\n", n, m.Precision(), per, 1000/per, plan.FLOPs/secs[j]/1e9)
		}
		if *profile {
			for _, m := range nets {
				m.SetProfile(true)
				// The first run records the plan again and learns its pace.
				for range 2 {
					if _, err := m.Run(ctx, b, names...); err != nil {
						return err
					}
				}
				ts, err := m.Timings()
				untimed := errors.Is(err, gpu.ErrUntimed)
				if err != nil && !untimed {
					return err
				}
				st, err := m.Stats()
				if err != nil {
					return err
				}
				m.SetProfile(false)
				mplan, err := m.Plan(b, names...)
				if err != nil {
					return err
				}
				if len(nets) > 1 {
					fmt.Fprintf(stdout, "  %s:\n", m.Precision())
				}
				if untimed {
					fmt.Fprintln(stdout, "  (a submission has more dispatches than can be timed: no per-layer table)")
				} else {
					printProfile(stdout, mplan, ts)
				}
				printStats(stdout, st)
			}
		}
	}
	return nil
}

// printStats prints where a profiled run's wall time went: the host's
// phases, and the device's time in its dispatches and from the first to
// the last dispatch of each submission (the difference is the gaps).
func printStats(w io.Writer, st graph.RunStats) {
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	fmt.Fprintf(w, "  run %.2f ms: input check %.2f, plan %.2f, upload %.2f, device %.2f, readback %.2f, other %.2f\n",
		ms(st.Total), ms(st.Check), ms(st.Plan), ms(st.Upload), ms(st.Device), ms(st.Readback),
		ms(st.Total-st.Check-st.Plan-st.Upload-st.Device-st.Readback))
	if st.Submissions > 0 && st.Spans > 0 {
		note := ""
		if st.Untimed {
			note = " (some too large to time, left out)"
		}
		fmt.Fprintf(w, "  device: %.2f ms in dispatches, %.2f ms from first to last dispatch within each of its %d submissions%s\n",
			ms(st.Dispatches), ms(st.Spans), st.Submissions, note)
	}
}

// printProfile prints the GPU time of each layer of a run (the sum of
// its dispatches, labelled "layer kernel"), its share of the run, and its
// GFLOP/s (layers that state their arithmetic) and GB/s (bytes of their
// inputs and output).
func printProfile(w io.Writer, plan graph.PlanInfo, ts []gpu.Timing) {
	if len(ts) == 0 {
		fmt.Fprintln(w, "  (no GPU timestamps: the device does not offer them, or the run is on the CPU reference)")
		return
	}
	byLayer := map[string]time.Duration{}
	kernels := map[string][]string{}
	var total time.Duration
	for _, t := range ts {
		layer, kern, _ := strings.Cut(t.Label, " ")
		byLayer[layer] += t.Duration
		if !slices.Contains(kernels[layer], kern) {
			kernels[layer] = append(kernels[layer], kern)
		}
		total += t.Duration
	}
	width := len("total")
	for _, c := range plan.Layers {
		if _, ok := byLayer[c.Name]; ok {
			width = max(width, len(c.Name))
		}
	}
	for layer := range byLayer {
		width = max(width, len(layer))
	}
	fmt.Fprintf(w, "  %-*s %9s %7s %9s %8s  %s\n", width, "layer", "ms", "share", "GFLOP/s", "GB/s", "kernels")
	for _, c := range plan.Layers {
		d, ok := byLayer[c.Name]
		if !ok {
			continue
		}
		sec := d.Seconds()
		gflops := "-"
		if c.Counted && sec > 0 {
			gflops = fmt.Sprintf("%.1f", c.FLOPs/sec/1e9)
		}
		gbs := "-"
		if sec > 0 {
			gbs = fmt.Sprintf("%.1f", float64(c.Bytes)/sec/1e9)
		}
		fmt.Fprintf(w, "  %-*s %9.2f %6.1f%% %9s %8s  %s\n", width, c.Name, sec*1000, 100*sec/total.Seconds(), gflops, gbs, strings.Join(kernels[c.Name], ", "))
		delete(byLayer, c.Name)
	}
	for layer, d := range byLayer { // dispatches of no layer of the plan
		fmt.Fprintf(w, "  %-*s %9.2f %6.1f%%\n", width, layer, d.Seconds()*1000, 100*d.Seconds()/total.Seconds())
	}
	fmt.Fprintf(w, "  %-*s %9.2f\n", width, "total", total.Seconds()*1000)
	fmt.Fprintf(w, "  by kernel: %s\n", kernelShares(ts, total))
}

// kernelShares sums the GPU time of each kernel (its name without the
// specialisation) over the layers: "wino_gemm 120.31 ms (53.2%), ...",
// the largest first.
func kernelShares(ts []gpu.Timing, total time.Duration) string {
	byKernel := map[string]time.Duration{}
	for _, t := range ts {
		_, kern, _ := strings.Cut(t.Label, " ")
		kern, _, _ = strings.Cut(kern, "[")
		byKernel[kern] += t.Duration
	}
	names := slices.Collect(maps.Keys(byKernel))
	slices.SortFunc(names, func(a, b string) int {
		if c := cmp.Compare(byKernel[b], byKernel[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s %.2f ms (%.1f%%)", k, byKernel[k].Seconds()*1000, 100*byKernel[k].Seconds()/total.Seconds())
	}
	return strings.Join(parts, ", ")
}

// layersCmd lists every layer name of a network with its shape.
func layersCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("layers", flag.ContinueOnError)
	var nf netFlags
	nf.register(fs)
	size := fs.Int("size", 224, "input size (height and width)")
	height := fs.Int("height", 0, "input height (default --size)")
	width := fs.Int("width", 0, "input width (default --size)")
	if err := parse(fs, args, stdout); err != nil {
		return helped(err)
	}
	h, w := *size, *size
	if *height > 0 {
		h = *height
	}
	if *width > 0 {
		w = *width
	}
	if h < 1 || w < 1 {
		return fmt.Errorf("layers: input %dx%d: sizes must be positive", h, w)
	}
	nf.device = models.DeviceCPU // shapes only: no device needed
	net, err := nf.open(stderr, nil)
	if err != nil {
		return err
	}
	defer net.Close()
	infos, err := net.Graph().Layers(1, h, w)
	fmt.Fprintf(stdout, "%s, input %dx%d:\n", net.Name, h, w)
	for _, l := range infos {
		fmt.Fprintf(stdout, "  %-28s %-22s %v\n", l.Name, l.Kind, l.Shape[1:])
	}
	return err
}

// validate runs the same graph on the chosen device and on the CPU
// reference and prints, per layer, the normalised and largest absolute
// error, naming the first layer beyond tolerance (an error then).
func validate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	var nf netFlags
	nf.register(fs)
	input := fs.String("input", "", "a float32 [N,H,W,3] .npy of RGB values in [0,1]")
	layerList := fs.String("layers", "", "comma-separated layer names (default: every layer)")
	size := fs.Int("size", 224, "images: centre-crop and resize to SIZE x SIZE; 0 keeps their own size")
	tol := fs.Float64("tol", 1e-4, "largest normalised error accepted, ||device - cpu|| / ||cpu||")
	if err := parse(fs, args, stdout); err != nil {
		return helped(err)
	}
	if err := nf.check(); err != nil {
		return err
	}
	if (*input == "") == (len(fs.Args()) == 0) {
		return errors.New("validate: give either --input X.npy or image files")
	}
	if strings.EqualFold(nf.device, models.DeviceCPU) {
		return errors.New("validate: compares a Vulkan device with the CPU reference: --device cpu compares nothing")
	}
	b, err := readInput("validate", *input, fs.Args(), *size)
	if err != nil {
		return err
	}
	dev, err := nf.open(stderr, nil)
	if err != nil {
		return err
	}
	defer dev.Close()
	if dev.Device() == nil {
		return errors.New("validate: no Vulkan device to validate")
	}
	nf.device, nf.precision = models.DeviceCPU, "fp32" // the reference computes in float32
	ref, err := nf.open(io.Discard, nil)
	if err != nil {
		return err
	}
	defer ref.Close()
	var names []string
	if *layerList != "" {
		if names, err = layerNames(*layerList); err != nil {
			return err
		}
	} else {
		infos, err := dev.Graph().Layers(b.N, b.H, b.W)
		for _, l := range infos {
			names = append(names, l.Name)
		}
		if len(names) == 0 {
			return err
		}
		if err != nil {
			fmt.Fprintf(stderr, "vkvgg: %v: checking the %d layers before it\n", err, len(names))
		}
	}
	// Both devices run --batch images at a time; the errors add up over
	// the batches.
	type sums struct {
		d, nrm, worst float64
		shape         []int
	}
	acc := map[string]*sums{}
	var order []string
	// The class ranking of the network's output, image by image: the
	// same top class, and the same five classes in the same order.
	var top1, top5, ranked int
	img := b.H * b.W * 3
	for i := 0; i < b.N; i += nf.batch {
		j := min(b.N, i+nf.batch)
		part := graph.Batch{N: j - i, H: b.H, W: b.W, Data: b.Data[i*img : j*img]}
		gr, err := dev.Run(ctx, part, names...)
		if err != nil {
			return err
		}
		cr, err := ref.Run(ctx, part, names...)
		if err != nil {
			return err
		}
		order = gr.Names()
		for _, name := range order {
			g, _ := gr.Feature(name)
			c, _ := cr.Feature(name)
			a := acc[name]
			if a == nil {
				a = &sums{shape: append([]int{b.N}, g.Shape[1:]...)}
				acc[name] = a
			}
			for k := range c.Data {
				e := float64(g.Data[k]) - float64(c.Data[k])
				a.d += e * e
				a.nrm += float64(c.Data[k]) * float64(c.Data[k])
				a.worst = math.Max(a.worst, math.Abs(e))
			}
			if name == dev.Output && len(g.Shape) == 2 && g.Shape[1] >= 5 {
				m := g.Shape[1]
				for r := range g.Shape[0] {
					gk, ck := topK(g.Data[r*m:(r+1)*m], 5), topK(c.Data[r*m:(r+1)*m], 5)
					ranked++
					if gk[0] == ck[0] {
						top1++
					}
					if slices.Equal(gk, ck) {
						top5++
					}
				}
			}
		}
	}
	fmt.Fprintf(stdout, "%s on %s against the CPU reference, %d image(s) of %dx%d:\n", dev.Name, dev.Device().Info().Name, b.N, b.H, b.W)
	fmt.Fprintf(stdout, "  %-28s %-18s %12s %12s\n", "layer", "shape", "norm. error", "max |error|")
	first := ""
	for _, name := range order {
		a := acc[name]
		ne := math.Sqrt(a.d / math.Max(a.nrm, 1e-300))
		mark := ""
		if !(ne <= *tol) {
			mark = "  <- beyond tolerance"
			if first == "" {
				first = name
			}
		}
		fmt.Fprintf(stdout, "  %-28s %-18s %12.3g %12.3g%s\n", name, fmt.Sprint(a.shape), ne, a.worst, mark)
	}
	if ranked > 0 {
		fmt.Fprintf(stdout, "  %s: the same top class for %d of %d images, the same top 5 in order for %d\n", dev.Output, top1, ranked, top5)
	}
	if first != "" {
		return fmt.Errorf("validate: layer %s is the first beyond the tolerance %g", first, *tol)
	}
	fmt.Fprintf(stdout, "every layer within %g\n", *tol)
	return nil
}
