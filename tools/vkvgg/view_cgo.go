//go:build cgo && !noview

package main

import (
	"context"
	"io"

	"github.com/vkvgg/vkvgg/viewer"
)

var errNoViewer error

func runViewer(ctx context.Context, o viewOptions, stdout io.Writer) error {
	return viewer.Run(ctx, viewer.Options{Weights: o.weights, FCN: o.fcn, Layer: o.layer, Images: o.images, Size: o.size,
		Width: o.width, Height: o.height, Frames: o.frames, Screenshot: o.shot, Validation: o.validation,
		PipelineCache: o.cache, Log: stdout, Precision: o.precision, Kernels: o.kernels})
}
