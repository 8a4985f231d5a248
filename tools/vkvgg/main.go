// Command vkvgg runs pretrained VGG16/VGG19 networks (tensorflow-vgg
// weight files) on any Vulkan device, or on the CPU reference.
//
// Usage:
//
//	vkvgg devices
//	vkvgg classify --weights W [--device D] [--batch B] [--top K] IMAGE...
//	vkvgg features --weights W (--input X.npy | IMAGE...) --layers a,b,... --out F.npz
//	                [--size S] [--device D] [--batch B]
//	vkvgg bench    --weights W [--device D] [--batches 1,8] [--iters N] [--size S] [--profile]
//
// W is a .npy or .npz weight file, or random:vgg16 / random:vgg19 for
// built-in random weights (results then mean nothing; vkvgg says so).
// D is cpu, a device index from "vkvgg devices", or a name substring;
// the default is the best Vulkan device (or $VKVGG_DEVICE).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/images"
	"github.com/vkvgg/vkvgg/npy"
	"github.com/vkvgg/vkvgg/synset"
	"github.com/vkvgg/vkvgg/vgg"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "vkvgg:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  vkvgg devices
  vkvgg classify --weights W [--device D] [--batch B] [--top K] IMAGE...
  vkvgg features --weights W (--input X.npy | IMAGE...) --layers a,b,... --out F.npz [--size S] [--device D] [--batch B]
  vkvgg bench    --weights W [--device D] [--batches 1,8] [--iters N] [--size S] [--profile]
W: a tensorflow-vgg .npy/.npz file, or random:vgg16 / random:vgg19
D: cpu, a device index or name substring (default: the best Vulkan device)`

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "devices":
		return devices(stdout)
	case "classify":
		return classify(args[1:], stdout, stderr)
	case "features":
		return features(args[1:], stdout, stderr)
	case "bench":
		return bench(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q (commands: devices, classify, features, bench; vkvgg help for usage)", args[0])
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
		fmt.Fprintf(w, "   subgroup size %d, max workgroup %d, fp16 %v, 16-bit storage %v, unified memory %v\n",
			d.SubgroupSize, d.MaxWorkgroupSize, d.FP16, d.Storage16Bit, d.UnifiedMemory)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func mib(b uint64) string { return fmt.Sprintf("%d MiB", b>>20) }

// common flags of the commands that run a network.
type netFlags struct {
	weights string
	device  string
	batch   int
}

func (f *netFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.weights, "weights", "", "weight file (.npy/.npz) or random:vgg16 / random:vgg19")
	fs.StringVar(&f.device, "device", "", "cpu, a device index or a name substring (default: best Vulkan device)")
	fs.IntVar(&f.batch, "batch", 8, "images per run")
}

func (f *netFlags) open(stderr io.Writer) (*vgg.Net, error) {
	if f.weights == "" {
		return nil, errors.New("--weights is required (a .npy/.npz file, or random:vgg16)")
	}
	if f.batch < 1 {
		return nil, fmt.Errorf("--batch %d: must be at least 1", f.batch)
	}
	start := time.Now()
	net, err := vgg.Load(f.weights, vgg.Options{Device: f.device})
	if err != nil {
		return nil, err
	}
	w := net.Weights()
	if w.Random {
		fmt.Fprintf(stderr, "vkvgg: WARNING: %s: the weights are RANDOM, so classes and features mean nothing\n", f.weights)
	}
	where := "CPU reference"
	if d := net.Device(); d != nil {
		where = d.Info().Name
	}
	fmt.Fprintf(stderr, "vkvgg: %v, %d classes, on %s (loaded in %.2f s)\n", w.Arch, w.Classes(), where, time.Since(start).Seconds())
	return net, nil
}

func parse(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s: %v (vkvgg help for usage)", fs.Name(), err)
	}
	return nil
}

func classify(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("classify", flag.ContinueOnError)
	var nf netFlags
	nf.register(fs)
	top := fs.Int("top", 5, "classes to print per image")
	if err := parse(fs, args); err != nil {
		return err
	}
	paths := fs.Args()
	if len(paths) == 0 {
		return errors.New("classify: no image given")
	}
	if *top < 1 {
		return fmt.Errorf("--top %d: must be at least 1", *top)
	}
	imgs, err := loadImages(paths, 224)
	if err != nil {
		return err
	}
	net, err := nf.open(stderr)
	if err != nil {
		return err
	}
	defer net.Close()
	for i := 0; i < len(imgs); i += nf.batch {
		j := min(len(imgs), i+nf.batch)
		b, err := batchOf(imgs[i:j])
		if err != nil {
			return err
		}
		res, err := net.Run(context.Background(), b, "prob")
		if err != nil {
			return err
		}
		prob, _ := res.Feature("prob")
		classes := prob.Shape[1]
		for k := range j - i {
			preds, err := synset.TopK(prob.Data[k*classes:(k+1)*classes], *top)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s:\n", paths[i+k])
			for _, p := range preds {
				fmt.Fprintf(stdout, "  %.4f  %-10s %s\n", p.Prob, p.WNID, p.Name)
			}
		}
	}
	return nil
}

// loadImages decodes images; size > 0 centre-crops and resizes like
// tensorflow-vgg's load_image, 0 keeps each image's own size.
func loadImages(paths []string, size int) ([]images.RGB, error) {
	out := make([]images.RGB, len(paths))
	for i, p := range paths {
		var err error
		if size > 0 {
			out[i], err = images.LoadVGG(p, size)
		} else {
			out[i], err = images.Load(p)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func batchOf(imgs []images.RGB) (vgg.Batch, error) {
	shape, data, err := images.Batch(imgs)
	if err != nil {
		return vgg.Batch{}, err
	}
	return vgg.Batch{N: shape[0], H: shape[1], W: shape[2], Data: data}, nil
}

func features(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("features", flag.ContinueOnError)
	var nf netFlags
	nf.register(fs)
	input := fs.String("input", "", "a float32 [N,H,W,3] .npy of RGB values in [0,1]")
	layerList := fs.String("layers", "", "comma-separated layer names, e.g. pool5,fc7")
	out := fs.String("out", "", "the .npz to write")
	size := fs.Int("size", 224, "images: centre-crop and resize to SIZE x SIZE; 0 keeps their own size")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("features: --out is required")
	}
	if *layerList == "" {
		return errors.New("features: --layers is required (e.g. --layers pool5,fc7)")
	}
	names, err := layerNames(*layerList)
	if err != nil {
		return err
	}
	if (*input == "") == (len(fs.Args()) == 0) {
		return errors.New("features: give either --input X.npy or image files")
	}
	if *size < 0 {
		return fmt.Errorf("--size %d: must be 0 or positive", *size)
	}
	var all vgg.Batch
	if *input != "" {
		a, err := npy.ReadNPYFile(*input)
		if err != nil {
			return err
		}
		if len(a.Shape) != 4 || a.Shape[3] != 3 {
			return fmt.Errorf("%s: shape %v, want [N,H,W,3] (RGB in [0,1], as tensorflow-vgg's build takes)", *input, a.Shape)
		}
		all = vgg.Batch{N: a.Shape[0], H: a.Shape[1], W: a.Shape[2], Data: a.Data}
	} else {
		imgs, err := loadImages(fs.Args(), *size)
		if err != nil {
			return err
		}
		if all, err = batchOf(imgs); err != nil {
			return fmt.Errorf("%w (with --size 0 every image must have the same size)", err)
		}
	}
	if all.N < 1 {
		return errors.New("features: the input holds no image")
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
	net, err := nf.open(stderr)
	if err != nil {
		return err
	}
	defer net.Close()
	collected := map[string][]float32{}
	shapes := map[string][]int{}
	var order []string
	start := time.Now()
	img := all.H * all.W * 3
	for i := 0; i < all.N; i += nf.batch {
		j := min(all.N, i+nf.batch)
		b := vgg.Batch{N: j - i, H: all.H, W: all.W, Data: all.Data[i*img : j*img]}
		res, err := net.Run(context.Background(), b, names...)
		if err != nil {
			return err
		}
		order = res.Names()
		for _, name := range order {
			ft, _ := res.Feature(name)
			collected[name] = append(collected[name], ft.Data...)
			shapes[name] = append([]int{all.N}, ft.Shape[1:]...)
		}
	}
	el := time.Since(start)
	fmt.Fprintf(stderr, "vkvgg: %d images of %dx%d in %.1f ms (%.1f ms per image, batch %d)\n",
		all.N, all.H, all.W, float64(el.Microseconds())/1000, float64(el.Microseconds())/1000/float64(all.N), nf.batch)
	arrays := make([]npy.Array, len(order))
	for i, name := range order {
		arrays[i] = npy.Array{Shape: shapes[name], Data: collected[name]}
	}
	if err := npy.WriteNPZ(tmp.Name(), order, arrays); err != nil {
		return err
	}
	// CreateTemp makes the file private; the result is an ordinary file.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return fmt.Errorf("cannot write the output: %w", err)
	}
	for i, name := range order {
		fmt.Fprintf(stdout, "%s %v\n", name, arrays[i].Shape)
	}
	return nil
}

// layerNames splits a --layers list and catches typos before anything is
// loaded; the network checks again for its own architecture (conv3_4,
// conv4_4, conv5_4 exist in VGG19 only).
func layerNames(list string) ([]string, error) {
	names := strings.Split(list, ",")
	known := vgg.VGG19.LayerNames()
	for _, name := range names {
		if !slices.Contains(known, name) {
			return nil, fmt.Errorf("unknown layer %q (layers: %s)", name, strings.Join(known, ", "))
		}
	}
	return names, nil
}

func bench(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var nf netFlags
	nf.register(fs)
	batches := fs.String("batches", "1,8", "comma-separated batch sizes")
	iters := fs.Int("iters", 3, "timed runs per batch size (after one warm-up); 0 only loads the weights")
	size := fs.Int("size", 224, "input size")
	layerList := fs.String("layers", "prob", "layers to read back")
	profile := fs.Bool("profile", false, "print the GPU time of every dispatch of the last run")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *iters < 0 || *size < 1 {
		return errors.New("bench: --iters must be at least 0 and --size at least 1")
	}
	names, err := layerNames(*layerList)
	if err != nil {
		return err
	}
	var sizes []int
	for _, s := range strings.Split(*batches, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return fmt.Errorf("--batches: %q is not a batch size", s)
		}
		if float64(n)*float64(*size)*float64(*size)*3 >= 1<<31 {
			return fmt.Errorf("--batches %d with --size %d: an input of 2^31 values or more", n, *size)
		}
		sizes = append(sizes, n)
	}
	net, err := nf.open(stderr)
	if err != nil {
		return err
	}
	defer net.Close()
	if *iters == 0 {
		return nil
	}
	for _, n := range sizes {
		b := vgg.Batch{N: n, H: *size, W: *size, Data: make([]float32, n**size**size*3)}
		for i := range b.Data {
			b.Data[i] = float32(i%251) / 250
		}
		if _, err := net.Run(context.Background(), b, names...); err != nil {
			return err
		}
		start := time.Now()
		for range *iters {
			if _, err := net.Run(context.Background(), b, names...); err != nil {
				return err
			}
		}
		per := time.Since(start).Seconds() * 1000 / float64(*iters*n)
		fmt.Fprintf(stdout, "batch %d: %.1f ms per image (%.1f images/s)\n", n, per, 1000/per)
		if *profile {
			net.SetProfile(true)
			if _, err := net.Run(context.Background(), b, names...); err != nil {
				return err
			}
			ts, err := net.Timings()
			if err != nil {
				return err
			}
			for _, t := range ts {
				fmt.Fprintf(stdout, "  %8.2f ms  %s\n", float64(t.Duration.Microseconds())/1000, t.Label)
			}
			net.SetProfile(false)
		}
	}
	return nil
}
