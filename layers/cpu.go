package layers

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
)

// Mean is the BGR mean that tensorflow-vgg subtracts after scaling by 255.
var Mean = [3]float64{103.939, 116.779, 123.68}

// Shape is the shape of an NHWC activation; fc activations are [N, C]
// with H = W = 1.
type Shape struct{ N, H, W, C int }

// Len is the number of elements.
func (s Shape) Len() int { return s.N * s.H * s.W * s.C }

// Image is the number of elements of one image (H*W*C).
func (s Shape) Image() int { return s.H * s.W * s.C }

func (s Shape) String() string { return fmt.Sprintf("[%d,%d,%d,%d]", s.N, s.H, s.W, s.C) }

// maxElems bounds the element count of a shape, so that indices fit the
// GPU kernels' 32-bit arithmetic and products never overflow.
const maxElems = 1 << 31

func (s Shape) check(what string) error {
	if s.N < 1 || s.H < 1 || s.W < 1 || s.C < 1 {
		return fmt.Errorf("layers: %s: shape %v has a dimension below 1", what, s)
	}
	if float64(s.N)*float64(s.H)*float64(s.W)*float64(s.C) >= maxElems {
		return fmt.Errorf("layers: %s: shape %v has 2^31 elements or more", what, s)
	}
	return nil
}

func checkLen(what, name string, got, want int) error {
	if got != want {
		return fmt.Errorf("layers: %s: %s has %d elements, want %d", what, name, got, want)
	}
	return nil
}

// parallel runs f(i) for i in [0, n) on all CPUs.
func parallel(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// FCCPU is a fully connected layer: x [rows, k] times w [k, m] plus b [m],
// with optional ReLU, accumulated in float64.
func FCCPU(x []float32, rows, k int, w, b []float32, m int, relu bool) ([]float32, error) {
	return FCCPUContext(context.Background(), x, rows, k, w, b, m, relu)
}

// ReLUCPU returns max(x, 0) elementwise.
func ReLUCPU(x []float32) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = max(v, 0)
	}
	return out
}

// SoftmaxCPU is a numerically stable softmax over the last axis of
// x [rows, m].
func SoftmaxCPU(x []float32, rows, m int) ([]float32, error) {
	if rows < 1 || m < 1 {
		return nil, fmt.Errorf("layers: softmax: sizes rows=%d m=%d must be positive", rows, m)
	}
	if err := checkLen("softmax", "input", len(x), rows*m); err != nil {
		return nil, err
	}
	out := make([]float32, len(x))
	for r := 0; r < rows; r++ {
		row := x[r*m : (r+1)*m]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v) - mx)
		}
		for j, v := range row {
			out[r*m+j] = float32(math.Exp(float64(v)-mx) / sum)
		}
	}
	return out, nil
}

// ConvCPU is a convolution with any window (see Window), bias and
// optional ReLU. in is [N,H,W,Cin] (s), w is HWIO [KH,KW,Cin,Cout], b is
// [Cout]; the result is [N,OH,OW,Cout]. Pixels outside the image are
// zeros. Sums are accumulated in float64; ctx is checked per output row.
func ConvCPU(ctx context.Context, in []float32, s Shape, win Window, w, b []float32, cout int, relu bool) ([]float32, error) {
	const what = "conv"
	if err := s.check(what); err != nil {
		return nil, err
	}
	if cout < 1 {
		return nil, fmt.Errorf("layers: conv: %d output channels", cout)
	}
	oh, ow, pad, err := win.Out(s.H, s.W)
	if err != nil {
		return nil, fmt.Errorf("layers: conv: %w", err)
	}
	if err := checkLen(what, "input", len(in), s.Len()); err != nil {
		return nil, err
	}
	if err := checkLen(what, "weights", len(w), win.KH*win.KW*s.C*cout); err != nil {
		return nil, err
	}
	if err := checkLen(what, "bias", len(b), cout); err != nil {
		return nil, err
	}
	cin := s.C
	out := make([]float32, s.N*oh*ow*cout)
	err = parallelCtx(ctx, s.N*oh, func(row int) {
		n, oy := row/oh, row%oh
		acc := make([]float64, cout)
		for ox := 0; ox < ow; ox++ {
			for co := range acc {
				acc[co] = float64(b[co])
			}
			for ky := 0; ky < win.KH; ky++ {
				iy := oy*win.SH - pad[0] + ky
				if iy < 0 || iy >= s.H {
					continue
				}
				for kx := 0; kx < win.KW; kx++ {
					ix := ox*win.SW - pad[1] + kx
					if ix < 0 || ix >= s.W {
						continue
					}
					px := in[((n*s.H+iy)*s.W+ix)*cin:][:cin]
					for ci, v := range px {
						wr := w[((ky*win.KW+kx)*cin+ci)*cout:][:cout]
						for co, wv := range wr {
							acc[co] += float64(v) * float64(wv)
						}
					}
				}
			}
			o := out[((n*oh+oy)*ow+ox)*cout:][:cout]
			for co, v := range acc {
				if relu && v < 0 {
					v = 0
				}
				o[co] = float32(v)
			}
		}
	})
	return out, err
}

// FCCPUContext is FCCPU that stops between rows when ctx is done.
func FCCPUContext(ctx context.Context, x []float32, rows, k int, w, b []float32, m int, relu bool) ([]float32, error) {
	if rows < 1 || k < 1 || m < 1 {
		return nil, fmt.Errorf("layers: fc: sizes rows=%d k=%d m=%d must be positive", rows, k, m)
	}
	if err := checkLen("fc", "input", len(x), rows*k); err != nil {
		return nil, err
	}
	if err := checkLen("fc", "weights", len(w), k*m); err != nil {
		return nil, err
	}
	if err := checkLen("fc", "bias", len(b), m); err != nil {
		return nil, err
	}
	out := make([]float32, rows*m)
	// Split each row's K sum over the CPUs by column ranges, so that one
	// image (the usual case) uses them all and cancellation is seen within
	// a slice of a row.
	const cols = 256
	parts := (m + cols - 1) / cols
	err := parallelCtx(ctx, rows*parts, func(i int) {
		r, j0 := i/parts, (i%parts)*cols
		j1 := min(m, j0+cols)
		acc := make([]float64, j1-j0)
		for j := range acc {
			acc[j] = float64(b[j0+j])
		}
		for kk, v := range x[r*k : (r+1)*k] {
			fv := float64(v)
			for j, wv := range w[kk*m+j0 : kk*m+j1] {
				acc[j] += fv * float64(wv)
			}
		}
		for j, v := range acc {
			if relu && v < 0 {
				v = 0
			}
			out[r*m+j0+j] = float32(v)
		}
	})
	return out, err
}
