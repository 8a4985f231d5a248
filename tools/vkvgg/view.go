package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/layers"
)

// viewCmd opens the live feature-map viewer (package viewer).
func viewCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("view", flag.ContinueOnError)
	weights := fs.String("weights", "", "weight file (.npy/.npz tensorflow-vgg, .pth torchvision) or random:NAME")
	fcn := fs.Bool("fcn", false, "tensorflow-vgg: run fc6-fc8 as convolutions")
	layer := fs.String("layer", "", "the layer shown first (default: the first map)")
	size := fs.Int("size", 224, "centre-crop and resize the images to SIZE x SIZE")
	width := fs.Int("width", 1024, "window width")
	height := fs.Int("height", 640, "window height")
	frames := fs.Int("frames", 0, "draw N frames and exit (0: until the window closes)")
	shot := fs.String("screenshot", "", "save the last frame (and frames saved with s) to this PNG")
	validation := fs.Bool("validation", false, "turn on the Khronos validation layer (also VKVGG_VALIDATION=1); any message fails the run")
	precision := fs.String("precision", "fp32", "fp32, or fp16: weights and activations stored as 16-bit floats on the device")
	if err := parse(fs, args, stdout); err != nil {
		return helped(err)
	}
	if errNoViewer != nil {
		return errNoViewer
	}
	prec, err := layers.ParsePrecision(*precision)
	if err != nil {
		return fmt.Errorf("--precision: %w", err)
	}
	kernels, err := layers.KernelOptionsFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	if *weights == "" || len(fs.Args()) == 0 {
		return fmt.Errorf("view: --weights and at least one IMAGE or folder are required")
	}
	if err := checkOut("view", "--screenshot", *shot); err != nil {
		return err
	}
	files, err := imageFiles("view", fs.Args())
	if err != nil {
		return err
	}
	return runViewer(ctx, viewOptions{weights: *weights, fcn: *fcn, layer: *layer, images: files, size: *size,
		width: *width, height: *height, frames: *frames, shot: *shot, validation: *validation || os.Getenv(gpu.EnvValidation) == "1", cache: pipelineCacheDir(), precision: prec, kernels: kernels}, stdout)
}

type viewOptions struct {
	weights, layer, shot, cache string
	fcn, validation             bool
	images                      []string
	size, width, height, frames int
	precision                   layers.Precision
	kernels                     layers.KernelOptions
}
