//go:build cgo

package gpu

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// Kernel is a compute pipeline with its layouts.
type Kernel struct {
	dev       *Device
	name      string
	bindings  int
	texels    uint32
	pushWords int
	module    vk.ShaderModule
	setLayout vk.DescriptorSetLayout
	layout    vk.PipelineLayout
	pipeline  vk.Pipeline
	closed    bool
}

// NewKernel compiles a compute pipeline.
func (d *Device) NewKernel(spec KernelSpec) (*Kernel, error) {
	if d.closed {
		return nil, ErrClosed
	}
	if len(spec.SPIRV) == 0 || len(spec.SPIRV)%4 != 0 || binary.LittleEndian.Uint32(spec.SPIRV) != 0x07230203 {
		return nil, fmt.Errorf("%w: kernel %s: not a SPIR-V module", ErrInvalid, spec.Name)
	}
	if spec.Bindings < 1 || spec.PushWords < 0 || spec.PushWords*4 > 128 {
		return nil, fmt.Errorf("%w: kernel %s: %d bindings, %d push words", ErrInvalid, spec.Name, spec.Bindings, spec.PushWords)
	}
	k := &Kernel{dev: d, name: spec.Name, bindings: spec.Bindings, texels: spec.Texels, pushWords: spec.PushWords}
	ok := false
	defer func() {
		if !ok {
			k.destroy()
		}
	}()
	code := make([]uint32, len(spec.SPIRV)/4)
	for i := range code {
		code[i] = binary.LittleEndian.Uint32(spec.SPIRV[4*i:])
	}
	minfo := &vk.ShaderModuleCreateInfo{
		SType:    vk.StructureTypeShaderModuleCreateInfo,
		CodeSize: uint(len(spec.SPIRV)),
		PCode:    code,
	}
	if err := vkErr("vkCreateShaderModule "+spec.Name, into(&k.module, func(p *vk.ShaderModule) vk.Result { return vk.CreateShaderModule(d.handle, minfo, nil, p) })); err != nil {
		return nil, err
	}
	binds := make([]vk.DescriptorSetLayoutBinding, spec.Bindings)
	for i := range binds {
		binds[i] = vk.DescriptorSetLayoutBinding{
			Binding:         uint32(i),
			DescriptorType:  k.descriptorType(i),
			DescriptorCount: 1,
			StageFlags:      vk.ShaderStageFlags(vk.ShaderStageComputeBit),
		}
	}
	linfo := &vk.DescriptorSetLayoutCreateInfo{
		SType:        vk.StructureTypeDescriptorSetLayoutCreateInfo,
		BindingCount: uint32(len(binds)),
		PBindings:    binds,
	}
	if err := vkErr("vkCreateDescriptorSetLayout", into(&k.setLayout, func(p *vk.DescriptorSetLayout) vk.Result {
		return vk.CreateDescriptorSetLayout(d.handle, linfo, nil, p)
	})); err != nil {
		return nil, err
	}
	pinfo := &vk.PipelineLayoutCreateInfo{
		SType:          vk.StructureTypePipelineLayoutCreateInfo,
		SetLayoutCount: 1,
		PSetLayouts:    []vk.DescriptorSetLayout{k.setLayout},
	}
	if spec.PushWords > 0 {
		pinfo.PushConstantRangeCount = 1
		pinfo.PPushConstantRanges = []vk.PushConstantRange{{
			StageFlags: vk.ShaderStageFlags(vk.ShaderStageComputeBit),
			Size:       uint32(spec.PushWords * 4),
		}}
	}
	if err := vkErr("vkCreatePipelineLayout", into(&k.layout, func(p *vk.PipelineLayout) vk.Result { return vk.CreatePipelineLayout(d.handle, pinfo, nil, p) })); err != nil {
		return nil, err
	}
	stage := vk.PipelineShaderStageCreateInfo{
		SType:  vk.StructureTypePipelineShaderStageCreateInfo,
		Stage:  vk.ShaderStageComputeBit,
		Module: k.module,
		PName:  "main\x00",
	}
	if len(spec.Spec) > 0 {
		// The binding copies the struct to C memory but not what PData
		// points to, so the constants live in C memory for the call.
		data := cMalloc(len(spec.Spec) * 4)
		defer cFree(data)
		words := unsafe.Slice((*uint32)(data), len(spec.Spec))
		entries := make([]vk.SpecializationMapEntry, len(spec.Spec))
		for i, v := range spec.Spec {
			words[i] = v
			entries[i] = vk.SpecializationMapEntry{ConstantID: uint32(i), Offset: uint32(4 * i), Size: 4}
		}
		stage.PSpecializationInfo = []vk.SpecializationInfo{{
			MapEntryCount: uint32(len(entries)),
			PMapEntries:   entries,
			DataSize:      uint(4 * len(spec.Spec)),
			PData:         data,
		}}
	}
	cinfo := vk.ComputePipelineCreateInfo{
		SType:  vk.StructureTypeComputePipelineCreateInfo,
		Stage:  stage,
		Layout: k.layout,
	}
	pipes := make([]vk.Pipeline, 1)
	if err := vkErr("vkCreateComputePipelines "+spec.Name, vk.CreateComputePipelines(d.handle, vk.NullPipelineCache, 1, []vk.ComputePipelineCreateInfo{cinfo}, nil, pipes)); err != nil {
		return nil, err
	}
	k.pipeline = pipes[0]
	ok = true
	d.track(k, "Kernel "+spec.Name)
	return k, nil
}

func (k *Kernel) destroy() {
	h := k.dev.handle
	if k.pipeline != vk.NullPipeline {
		vk.DestroyPipeline(h, k.pipeline, nil)
	}
	if k.layout != vk.NullPipelineLayout {
		vk.DestroyPipelineLayout(h, k.layout, nil)
	}
	if k.setLayout != vk.NullDescriptorSetLayout {
		vk.DestroyDescriptorSetLayout(h, k.setLayout, nil)
	}
	if k.module != vk.NullShaderModule {
		vk.DestroyShaderModule(h, k.module, nil)
	}
}

// Name is the kernel's name.
func (k *Kernel) Name() string { return k.name }

// Close destroys the pipeline. It is idempotent and nil-safe.
func (k *Kernel) Close() error {
	if k == nil || k.closed {
		return nil
	}
	k.closed = true
	if !k.dev.closed {
		k.destroy()
		k.dev.untrack(k)
	}
	return nil
}

func (k *Kernel) descriptorType(binding int) vk.DescriptorType {
	if k.texels&(1<<binding) != 0 {
		return vk.DescriptorTypeUniformTexelBuffer
	}
	return vk.DescriptorTypeStorageBuffer
}
