package heads

import (
	"fmt"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// PlotCurves draws the loss and the accuracy per epoch, training and
// validation, side by side, as a PNG.
func PlotCurves(history []EpochStats, path string) error {
	if len(history) == 0 {
		return fmt.Errorf("heads: no epoch to plot")
	}
	series := func(f func(EpochStats) float64) plotter.XYs {
		xy := make(plotter.XYs, len(history))
		for i, h := range history {
			xy[i].X, xy[i].Y = float64(h.Epoch), f(h)
		}
		return xy
	}
	mk := func(title, ylabel string, train, val plotter.XYs) (*plot.Plot, error) {
		p := plot.New()
		p.Title.Text = title
		p.X.Label.Text = "epoch"
		p.Y.Label.Text = ylabel
		lt, err := plotter.NewLine(train)
		if err != nil {
			return nil, err
		}
		lv, err := plotter.NewLine(val)
		if err != nil {
			return nil, err
		}
		lv.Color = plotter.DefaultLineStyle.Color
		lv.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(lt, lv, plotter.NewGrid())
		p.Legend.Add("train", lt)
		p.Legend.Add("validation", lv)
		p.Legend.Top = true
		return p, nil
	}
	loss, err := mk("loss", "cross-entropy", series(func(h EpochStats) float64 { return h.TrainLoss }), series(func(h EpochStats) float64 { return h.ValLoss }))
	if err != nil {
		return err
	}
	acc, err := mk("accuracy", "fraction correct", series(func(h EpochStats) float64 { return h.TrainAcc }), series(func(h EpochStats) float64 { return h.ValAcc }))
	if err != nil {
		return err
	}
	img := vgimg.New(10*vg.Inch, 4*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align([][]*plot.Plot{{loss, acc}}, tiles, dc)
	loss.Draw(canvases[0][0])
	acc.Draw(canvases[0][1])
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("heads: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("heads: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("heads: %w", err)
	}
	return os.Rename(tmp, path)
}
