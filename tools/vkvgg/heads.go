package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/vkvgg/vkvgg/extract"
	"github.com/vkvgg/vkvgg/heads"
	"github.com/vkvgg/vkvgg/images"
	"github.com/vkvgg/vkvgg/models"
)

// trainCmd trains a classification head on the features of a `vkvgg
// extract` folder (see package heads).
func trainCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	features := fs.String("features", "", "a `vkvgg extract` output folder of a labelled dataset")
	layer := fs.String("layer", "", "the layer to train on (default: the folder's only one)")
	head := fs.String("head", "linear", "linear (softmax regression), mlp (one hidden ReLU layer) or fcn (segmentation)")
	hidden := fs.Int("hidden", 512, "mlp: hidden units")
	dropout := fs.Float64("dropout", 0, "mlp: dropout rate on the hidden layer")
	epochs := fs.Int("epochs", 100, "at most this many epochs")
	lr := fs.Float64("lr", 1e-3, "Adam learning rate")
	wd := fs.Float64("weight-decay", 1e-4, "L2 penalty on the weights")
	val := fs.Float64("val", 0.2, "fraction of each class held out for validation")
	seed := fs.Uint64("seed", 1, "random seed (a run is deterministic for a seed)")
	batch := fs.Int("batch", 64, "examples per step")
	patience := fs.Int("patience", 10, "stop after this many epochs without a better validation loss")
	out := fs.String("out", "", "the head file to write (.npz)")
	plotPath := fs.String("plot", "", "also draw loss and accuracy per epoch into this PNG")
	// Segmentation heads train on images and masks through the network.
	nf := netFlags{batch: 8}
	fs.StringVar(&nf.weights, "weights", "", "fcn: the network's weights (a file or random:NAME)")
	fs.StringVar(&nf.device, "device", "", "fcn: the device that computes the features")
	dataDir := fs.String("data", "", "fcn: a folder with images/ and masks/ (PNG class ids, same base names; 255 is ignored)")
	classesFile := fs.String("classes", "", "fcn: class names, one per line (default: class0, class1, ...)")
	size := fs.Int("size", 224, "fcn: images and masks are centre-cropped and resized to SIZE x SIZE")
	if err := parse(fs, args, stdout); err != nil {
		return helped(err)
	}
	if *head == "fcn" {
		if *out == "" || *size < 1 {
			return errors.New("train: --out is required, and --size must be positive")
		}
		cfg := heads.Config{Epochs: *epochs, LR: *lr, WeightDecay: *wd, Batch: *batch, Patience: *patience, Seed: *seed}
		cfg.Epoch = func(e heads.EpochStats) {
			fmt.Fprintf(stdout, "epoch %3d  train loss %.4f pixel acc %.4f  validation loss %.4f pixel acc %.4f\n", e.Epoch, e.TrainLoss, e.TrainAcc, e.ValLoss, e.ValAcc)
		}
		return trainFCN(&nf, *dataDir, *layer, *classesFile, *size, *val, *seed, cfg, *out, *plotPath, stdout, stderr)
	}
	if *features == "" || *out == "" {
		return errors.New("train: --features and --out are required")
	}
	if *head != "linear" && *head != "mlp" {
		return fmt.Errorf("train: --head %q: linear, mlp or fcn", *head)
	}
	if *val < 0 || *val >= 1 {
		return fmt.Errorf("train: --val %v: a fraction in [0, 1)", *val)
	}
	if err := checkOut("train", "--out", *out); err != nil {
		return err
	}
	data, meta, unlabelled, err := heads.LoadFeatures(*features, *layer)
	if err != nil {
		return err
	}
	if unlabelled > 0 {
		fmt.Fprintf(stderr, "vkvgg: %d images outside a class folder are left out\n", unlabelled)
	}
	cfg := heads.Config{Epochs: *epochs, LR: *lr, WeightDecay: *wd, Batch: *batch, Patience: *patience, Seed: *seed, Dropout: *dropout}
	if *head == "mlp" {
		cfg.Hidden = *hidden
	}
	train, valid := heads.Split(data.Y, data.K, *val, *seed)
	fmt.Fprintf(stderr, "vkvgg: %d images of %d features (%s), %d classes: %d to train, %d to validate\n",
		data.N, data.D, meta.Layer, data.K, len(train), len(valid))
	start := time.Now()
	cfg.Epoch = func(e heads.EpochStats) {
		fmt.Fprintf(stdout, "epoch %3d  train loss %.4f acc %.4f  validation loss %.4f acc %.4f\n", e.Epoch, e.TrainLoss, e.TrainAcc, e.ValLoss, e.ValAcc)
	}
	res, err := heads.Train(data, train, valid, cfg)
	if err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Fprintf(stdout, "kept epoch %d: validation accuracy %.4f (%d epochs, %.2f s per epoch)\n",
		res.Best, res.ValAcc, len(res.History), el.Seconds()/float64(len(res.History)))
	if len(valid) > 0 {
		printConfusion(stdout, res.Confusion, data.Labels)
	}
	h := res.Head
	h.Network, h.Layer, h.Pooling, h.InputSize = meta.Network, meta.Layer, meta.Pooling, meta.InputSize
	if err := h.Save(*out); err != nil {
		return err
	}
	if *plotPath != "" {
		if err := heads.PlotCurves(res.History, *plotPath); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
}

// printConfusion prints a confusion matrix: rows are the true classes.
func printConfusion(w io.Writer, m [][]int, names []string) {
	width := 5
	for _, n := range names {
		width = max(width, len(n))
	}
	fmt.Fprintf(w, "validation confusion matrix (rows: true class, columns: predicted)\n%*s", width, "")
	for j := range m {
		fmt.Fprintf(w, " %5d", j)
	}
	fmt.Fprintln(w)
	for i, row := range m {
		fmt.Fprintf(w, "%*s", width, names[i])
		for _, c := range row {
			fmt.Fprintf(w, " %5d", c)
		}
		fmt.Fprintf(w, "   %d: %s\n", i, names[i])
	}
}

// predictCmd runs the pretrained network and a head as one graph.
func predictCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	var nf netFlags
	nf.register(fs)
	headPath := fs.String("head", "", "a head file from vkvgg train")
	top := fs.Int("top", 3, "classes to print per image")
	out := fs.String("out", "", "write a CSV (path, class, probability of each class) instead of printing")
	masks := fs.String("masks", "", "segmentation heads: write each image's mask (palette PNG) into this folder")
	overlay := fs.Bool("overlay", false, "segmentation heads: also write the mask blended over the photo")
	if err := parse(fs, args, stdout); err != nil {
		return helped(err)
	}
	if *headPath == "" || len(fs.Args()) == 0 {
		return errors.New("predict: --head and at least one IMAGE or FOLDER are required")
	}
	h, err := heads.Load(*headPath)
	if err != nil {
		return err
	}
	files, _, _, err := extract.List(fs.Args())
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return errors.New("predict: no file found")
	}
	if err := nf.check(); err != nil {
		return err
	}
	opts := nf.options()
	opts.Extend = h.Attach
	net, err := models.Load(nf.weights, opts)
	if err != nil {
		return err
	}
	defer net.Close()
	if net.Fallback != nil {
		fmt.Fprintf(stderr, "vkvgg: WARNING: %v; running on the CPU reference instead\n", net.Fallback)
	}
	if net.Name != h.Network {
		fmt.Fprintf(stderr, "vkvgg: WARNING: the head was trained on %s features, these weights are %s\n", h.Network, net.Name)
	}
	if h.Kind == "fcn" {
		return predictSeg(ctx, net, h, files, *masks, *overlay, stdout, stderr)
	}
	var w *csv.Writer
	var tmp string
	if *out != "" {
		tmp = filepath.Join(filepath.Dir(*out), ".tmp-"+filepath.Base(*out))
		f, err := os.Create(tmp)
		if err != nil {
			return fmt.Errorf("predict: %w", err)
		}
		defer os.Remove(tmp)
		defer f.Close()
		w = csv.NewWriter(f)
		w.Write(append([]string{"path", "class"}, h.Classes...))
	}
	k := len(h.Classes)
	skipped := 0
	for i := 0; i < len(files); i += nf.batch {
		var imgs []images.RGB
		var names []string
		for _, p := range files[i:min(len(files), i+nf.batch)] {
			img, err := images.LoadVGG(p, h.InputSize)
			if err != nil {
				fmt.Fprintf(stderr, "vkvgg: skipped %s: %v\n", p, err)
				skipped++
				continue
			}
			imgs, names = append(imgs, img), append(names, p)
		}
		if len(imgs) == 0 {
			continue
		}
		b, err := batchOf(imgs)
		if err != nil {
			return err
		}
		res, err := net.Run(ctx, b, "head.prob")
		if err != nil {
			return err
		}
		prob, _ := res.Feature("head.prob")
		for r, p := range names {
			row := prob.Data[r*k : (r+1)*k]
			idx := topK(row, k)
			if w != nil {
				rec := []string{p, h.Classes[idx[0]]}
				for _, v := range row {
					rec = append(rec, strconv.FormatFloat(float64(v), 'g', 7, 32))
				}
				w.Write(rec)
				continue
			}
			fmt.Fprintf(stdout, "%s:\n", p)
			for _, j := range idx[:min(*top, k)] {
				fmt.Fprintf(stdout, "  %.4f  %s\n", row[j], h.Classes[j])
			}
		}
	}
	if w != nil {
		w.Flush()
		if err := w.Error(); err != nil {
			return fmt.Errorf("predict: %w", err)
		}
		if err := os.Rename(tmp, *out); err != nil {
			return fmt.Errorf("predict: %w", err)
		}
		fmt.Fprintf(stdout, "wrote %d predictions to %s\n", len(files)-skipped, *out)
	}
	if skipped == len(files) {
		return errors.New("predict: no image could be read")
	}
	return nil
}
