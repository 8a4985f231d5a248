package layers_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/vkvgg/vkvgg/layers"
)

// TestKernelOptions: every value a kit knows is accepted, every other is
// refused with ErrOptions and a message naming the field or variable.
func TestKernelOptions(t *testing.T) {
	for _, o := range []layers.KernelOptions{{}, {Family: "cpu", Winograd: "f4", NoSubgroups: true}, {Family: "gpu", Winograd: "off"}, {Family: "auto", Winograd: "auto"}, {Winograd: "f2"}} {
		if err := o.Validate(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
	for _, c := range []struct {
		o    layers.KernelOptions
		want string
	}{{layers.KernelOptions{Family: "GPU"}, `Family "GPU"`}, {layers.KernelOptions{Winograd: "f3"}, `Winograd "f3"`},
		{layers.KernelOptions{TuneRounds: -1}, "TuneRounds -1"}, {layers.KernelOptions{Retune: true, TuneRounds: 101}, "TuneRounds 101"}} {
		if err := c.o.Validate(); !errors.Is(err, layers.ErrOptions) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want ErrOptions with %q", c.o, err, c.want)
		}
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	got, err := layers.KernelOptionsFromEnv(env(map[string]string{"VKVGG_KERNELS": "gpu", "VKVGG_WINOGRAD": "f2", "VKVGG_SUBGROUPS": "off"}))
	if want := (layers.KernelOptions{Family: "gpu", Winograd: "f2", NoSubgroups: true}); err != nil || got != want {
		t.Errorf("from the environment: got %+v, %v, want %+v", got, err, want)
	}
	if got, err := layers.KernelOptionsFromEnv(env(nil)); err != nil || got != (layers.KernelOptions{}) {
		t.Errorf("from an empty environment: got %+v, %v", got, err)
	}
	for name, val := range map[string]string{"VKVGG_KERNELS": "vulkan", "VKVGG_WINOGRAD": "on", "VKVGG_SUBGROUPS": "0"} {
		_, err := layers.KernelOptionsFromEnv(env(map[string]string{name: val}))
		if !errors.Is(err, layers.ErrOptions) || !strings.Contains(err.Error(), name+`="`+val+`"`) {
			t.Errorf("%s=%s: got %v, want ErrOptions naming it", name, val, err)
		}
	}
}
