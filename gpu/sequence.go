//go:build cgo

package gpu

import (
	"fmt"
	"time"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// Sequence records dispatches and copies into one command buffer, with the
// barriers their accesses require, and submits them at once. It may be
// submitted again without re-recording; Reset starts a new recording.
type Sequence struct {
	dev        *Device
	pool       vk.CommandPool
	cmd        vk.CommandBuffer
	fence      vk.Fence
	descPools  []vk.DescriptorPool
	setsLeft   int
	descsLeft  int
	pending    []access // accesses since the last barrier
	written    bool     // something was written since the recording began
	recording  bool
	ended      bool
	submitted  bool // the recording ran to completion at least once
	running    bool // started and not yet waited for
	after      bool // SequenceOptions.AfterPrevious
	timestamps bool
	untimed    bool // more dispatches than maxTimedQueries can time
	queries    vk.QueryPool
	labels     []string
	views      []vk.BufferView // texel views of the recording
	barriers   int
	dispatches int
	closed     bool
}

type access struct {
	buf    *Buffer
	lo, hi int64
	write  bool
}

const (
	setsPerPool     = 256
	descsPerPool    = 1024
	maxTimedQueries = 2048
)

// NewSequence creates an empty sequence.
func (d *Device) NewSequence(o SequenceOptions) (*Sequence, error) {
	if d.closed {
		return nil, ErrClosed
	}
	s := &Sequence{dev: d, timestamps: o.Timestamps && d.info.TimestampPeriodNS > 0, after: o.AfterPrevious}
	ok := false
	defer func() {
		if !ok {
			s.destroy()
		}
	}()
	pinfo := &vk.CommandPoolCreateInfo{
		SType:            vk.StructureTypeCommandPoolCreateInfo,
		Flags:            vk.CommandPoolCreateFlags(vk.CommandPoolCreateResetCommandBufferBit),
		QueueFamilyIndex: d.info.QueueFamily,
	}
	defer pinfo.Free() // the binding's C copy of it
	if err := vkErr("vkCreateCommandPool", into(&s.pool, func(p *vk.CommandPool) vk.Result { return vk.CreateCommandPool(d.handle, pinfo, nil, p) })); err != nil {
		return nil, err
	}
	ainfo := &vk.CommandBufferAllocateInfo{
		SType:              vk.StructureTypeCommandBufferAllocateInfo,
		CommandPool:        s.pool,
		Level:              vk.CommandBufferLevelPrimary,
		CommandBufferCount: 1,
	}
	defer ainfo.Free() // the binding's C copy of it
	cmds := make([]vk.CommandBuffer, 1)
	if err := vkErr("vkAllocateCommandBuffers", vk.AllocateCommandBuffers(d.handle, ainfo, cmds)); err != nil {
		return nil, err
	}
	s.cmd = cmds[0]
	finfo := &vk.FenceCreateInfo{SType: vk.StructureTypeFenceCreateInfo}
	defer finfo.Free() // the binding's C copy of it
	if err := vkErr("vkCreateFence", into(&s.fence, func(p *vk.Fence) vk.Result { return vk.CreateFence(d.handle, finfo, nil, p) })); err != nil {
		return nil, err
	}
	if s.timestamps {
		qinfo := &vk.QueryPoolCreateInfo{
			SType:      vk.StructureTypeQueryPoolCreateInfo,
			QueryType:  vk.QueryTypeTimestamp,
			QueryCount: maxTimedQueries,
		}
		defer qinfo.Free() // the binding's C copy of it
		if err := vkErr("vkCreateQueryPool", into(&s.queries, func(p *vk.QueryPool) vk.Result { return vk.CreateQueryPool(d.handle, qinfo, nil, p) })); err != nil {
			return nil, err
		}
	}
	ok = true
	d.track(s, "Sequence")
	return s, nil
}

// releaseRecording frees the descriptor pools and texel views of the
// recording.
func (s *Sequence) releaseRecording() {
	for _, v := range s.views {
		vk.DestroyBufferView(s.dev.handle, v, nil)
	}
	s.views = s.views[:0]
	for _, p := range s.descPools {
		vk.DestroyDescriptorPool(s.dev.handle, p, nil)
	}
	s.descPools = nil
	s.setsLeft, s.descsLeft = 0, 0
}

func (s *Sequence) destroy() {
	h := s.dev.handle
	s.releaseRecording()
	if s.queries != vk.NullQueryPool {
		vk.DestroyQueryPool(h, s.queries, nil)
	}
	if s.fence != vk.NullFence {
		vk.DestroyFence(h, s.fence, nil)
	}
	if s.pool != vk.NullCommandPool {
		vk.DestroyCommandPool(h, s.pool, nil)
	}
}

// Close frees the sequence. It is idempotent and nil-safe.
func (s *Sequence) Close() error {
	if s == nil || s.closed {
		return nil
	}
	var err error
	if s.running && !s.dev.closed {
		err = s.Wait() // never destroy a command buffer the device still runs
	}
	s.closed = true
	if !s.dev.closed {
		s.destroy()
		s.dev.untrack(s)
	}
	return err
}

func (s *Sequence) begin() error {
	if s.closed {
		return ErrClosed
	}
	if s.ended {
		return fmt.Errorf("%w: sequence already ended; call Reset to record again", ErrInvalid)
	}
	if s.recording {
		return nil
	}
	binfo := &vk.CommandBufferBeginInfo{SType: vk.StructureTypeCommandBufferBeginInfo}
	defer binfo.Free() // the binding's C copy of it
	if err := vkErr("vkBeginCommandBuffer", vk.BeginCommandBuffer(s.cmd, binfo)); err != nil {
		return err
	}
	s.recording = true
	if s.timestamps {
		vk.CmdResetQueryPool(s.cmd, s.queries, 0, maxTimedQueries)
	}
	if s.after {
		// A pipeline barrier's first scope includes every command earlier
		// in submission order, so this orders the whole recording after
		// the previous submissions.
		s.barrier(vk.PipelineStageComputeShaderBit|vk.PipelineStageTransferBit,
			vk.AccessShaderReadBit|vk.AccessShaderWriteBit|vk.AccessTransferReadBit|vk.AccessTransferWriteBit)
	}
	return nil
}

// hazard inserts a barrier when an access conflicts with one recorded since
// the last barrier: read after write, write after write or write after read
// of overlapping bytes of the same buffer.
func (s *Sequence) hazard(acc []access) {
	for _, a := range acc {
		for _, p := range s.pending {
			if p.buf == a.buf && p.lo < a.hi && a.lo < p.hi && (p.write || a.write) {
				s.barrier(vk.PipelineStageComputeShaderBit|vk.PipelineStageTransferBit,
					vk.AccessShaderReadBit|vk.AccessShaderWriteBit|vk.AccessTransferReadBit|vk.AccessTransferWriteBit)
				s.pending = s.pending[:0]
				return
			}
		}
	}
}

func (s *Sequence) barrier(dstStage vk.PipelineStageFlagBits, dstAccess vk.AccessFlagBits) {
	cmdBarrier(s.cmd, vk.PipelineStageComputeShaderBit|vk.PipelineStageTransferBit, dstStage,
		vk.AccessShaderWriteBit|vk.AccessTransferWriteBit, dstAccess)
	s.barriers++
}

func (s *Sequence) note(acc []access) {
	for _, a := range acc {
		s.pending = append(s.pending, a)
		s.written = s.written || a.write
	}
}

func (s *Sequence) descriptorSet(k *Kernel) (vk.DescriptorSet, error) {
	if s.setsLeft < 1 || s.descsLeft < k.bindings {
		p, r := createDescriptorPool(s.dev.handle, setsPerPool, descsPerPool)
		if err := vkErr("vkCreateDescriptorPool", r); err != nil {
			return nil, err
		}
		s.descPools = append(s.descPools, p)
		s.setsLeft, s.descsLeft = setsPerPool, descsPerPool
	}
	set, r := allocateSet(s.dev.handle, s.descPools[len(s.descPools)-1], k.setLayout)
	if err := vkErr("vkAllocateDescriptorSets", r); err != nil {
		return nil, err
	}
	s.setsLeft--
	s.descsLeft -= k.bindings
	return set, nil
}

// Dispatch records k over groups workgroups with the push constant words
// and the views bound to bindings 0, 1, ... in order.
func (s *Sequence) Dispatch(k *Kernel, groups [3]int, push []uint32, args ...Arg) error {
	if k == nil || k.closed || k.dev != s.dev {
		return fmt.Errorf("%w: Dispatch with a closed, nil or foreign kernel", ErrInvalid)
	}
	if len(args) != k.bindings || len(push) != k.pushWords {
		return fmt.Errorf("%w: kernel %s takes %d bindings and %d push words, got %d and %d", ErrInvalid, k.name, k.bindings, k.pushWords, len(args), len(push))
	}
	lim := s.dev.info
	for i, g := range groups {
		if g < 1 || g > 65535 {
			return fmt.Errorf("%w: kernel %s: workgroup count %d on axis %d out of [1, 65535]", ErrInvalid, k.name, g, i)
		}
	}
	acc := make([]access, len(args))
	for i, a := range args {
		if err := a.View.check(); err != nil {
			return fmt.Errorf("gpu: kernel %s binding %d: %w", k.name, i, err)
		}
		if a.Buf.dev != s.dev {
			return fmt.Errorf("%w: kernel %s binding %d: buffer of another device", ErrInvalid, k.name, i)
		}
		if a.Texels != (k.texels&(1<<i) != 0) {
			return fmt.Errorf("%w: kernel %s binding %d: texel and storage bindings mixed up", ErrInvalid, k.name, i)
		}
		if a.Half && !s.dev.half {
			return fmt.Errorf("%w: kernel %s binding %d: fp16 texels on a device without them (Device.Half)", ErrInvalid, k.name, i)
		}
		if a.Texels {
			texel := int64(16)
			if a.Half {
				texel = 8
			}
			if a.Size%texel != 0 || uint64(a.Size/texel) > lim.MaxTexelElements || lim.MinTexelAlignment > 0 && uint64(a.Offset)%lim.MinTexelAlignment != 0 {
				return fmt.Errorf("%w: kernel %s binding %d: texel view [%d, +%d) breaks the device's texel limits", ErrInvalid, k.name, i, a.Offset, a.Size)
			}
		} else if uint64(a.Size) > lim.MaxStorageBufferRange {
			return fmt.Errorf("%w: kernel %s binding %d: view of %d bytes exceeds maxStorageBufferRange %d", ErrInvalid, k.name, i, a.Size, lim.MaxStorageBufferRange)
		}
		if lim.MinStorageAlignment > 0 && uint64(a.Offset)%lim.MinStorageAlignment != 0 {
			return fmt.Errorf("%w: kernel %s binding %d: offset %d not a multiple of minStorageBufferOffsetAlignment %d", ErrInvalid, k.name, i, a.Offset, lim.MinStorageAlignment)
		}
		acc[i] = access{a.Buf, a.Offset, a.Offset + a.Size, a.Access != Read}
	}
	if s.timestamps && !s.untimed && 2*len(s.labels)+2 > maxTimedQueries {
		s.untimed = true // Timings says so; the dispatches still run
	}
	timed := s.timestamps && !s.untimed
	if err := s.begin(); err != nil {
		return err
	}
	set, err := s.descriptorSet(k)
	if err != nil {
		return err
	}
	binds := make([]binding, len(args))
	for i, a := range args {
		binds[i] = binding{typ: k.descriptorType(i), buf: a.Buf.handle, off: a.Offset, size: a.Size}
		if a.Texels {
			v, err := s.texelView(a.View, a.Half)
			if err != nil {
				return err
			}
			binds[i].view = v
		}
	}
	writeSet(s.dev.handle, set, binds)
	s.hazard(acc)
	if timed {
		vk.CmdWriteTimestamp(s.cmd, vk.PipelineStageTopOfPipeBit, s.queries, uint32(2*len(s.labels)))
	}
	vk.CmdBindPipeline(s.cmd, vk.PipelineBindPointCompute, k.pipeline)
	vk.CmdBindDescriptorSets(s.cmd, vk.PipelineBindPointCompute, k.layout, 0, 1, []vk.DescriptorSet{set}, 0, nil)
	if len(push) > 0 {
		vk.CmdPushConstants(s.cmd, k.layout, vk.ShaderStageFlags(vk.ShaderStageComputeBit), 0, uint32(4*len(push)), unsafe.Pointer(&push[0]))
	}
	vk.CmdDispatch(s.cmd, uint32(groups[0]), uint32(groups[1]), uint32(groups[2]))
	s.dispatches++
	if timed {
		vk.CmdWriteTimestamp(s.cmd, vk.PipelineStageBottomOfPipeBit, s.queries, uint32(2*len(s.labels)+1))
		s.labels = append(s.labels, k.name)
	}
	s.note(acc)
	return nil
}

// texelView makes a vec4 view of v, float or half, that lives until
// Reset or Close.
func (s *Sequence) texelView(v View, half bool) (vk.BufferView, error) {
	format := vk.FormatR32g32b32a32Sfloat
	if half {
		format = vk.FormatR16g16b16a16Sfloat
	}
	info := &vk.BufferViewCreateInfo{
		SType:  vk.StructureTypeBufferViewCreateInfo,
		Buffer: v.Buf.handle,
		Format: format,
		Offset: vk.DeviceSize(v.Offset),
		Range:  vk.DeviceSize(v.Size),
	}
	defer info.Free() // the binding's C copy of it
	var bv vk.BufferView
	if err := vkErr("vkCreateBufferView", vk.CreateBufferView(s.dev.handle, info, nil, &bv)); err != nil {
		return nil, err
	}
	s.views = append(s.views, bv)
	return bv, nil
}

// Copy records a copy of src into dst (equal sizes).
func (s *Sequence) Copy(dst, src View) error {
	if err := src.checkIn(2); err != nil {
		return fmt.Errorf("gpu: Copy source: %w", err)
	}
	if err := dst.checkIn(2); err != nil {
		return fmt.Errorf("gpu: Copy destination: %w", err)
	}
	if src.Size != dst.Size {
		return fmt.Errorf("%w: Copy of %d bytes into %d", ErrInvalid, src.Size, dst.Size)
	}
	if src.Buf.dev != s.dev || dst.Buf.dev != s.dev {
		return fmt.Errorf("%w: Copy with a buffer of another device", ErrInvalid)
	}
	if err := s.begin(); err != nil {
		return err
	}
	acc := []access{{src.Buf, src.Offset, src.Offset + src.Size, false}, {dst.Buf, dst.Offset, dst.Offset + dst.Size, true}}
	s.hazard(acc)
	cmdCopy(s.cmd, src.Buf.handle, dst.Buf.handle, src.Offset, dst.Offset, src.Size)
	s.note(acc)
	return nil
}

// Fill records filling dst with a 32-bit word (e.g. math.Float32bits(NaN)).
func (s *Sequence) Fill(dst View, word uint32) error {
	if err := dst.check(); err != nil {
		return fmt.Errorf("gpu: Fill: %w", err)
	}
	if dst.Buf.dev != s.dev {
		return fmt.Errorf("%w: Fill of a buffer of another device", ErrInvalid)
	}
	if err := s.begin(); err != nil {
		return err
	}
	acc := []access{{dst.Buf, dst.Offset, dst.Offset + dst.Size, true}}
	s.hazard(acc)
	vk.CmdFillBuffer(s.cmd, dst.Buf.handle, vk.DeviceSize(dst.Offset), vk.DeviceSize(dst.Size), word)
	s.note(acc)
	return nil
}

// Dispatches is the number of dispatches recorded so far.
func (s *Sequence) Dispatches() int { return s.dispatches }

// Barriers is the number of barriers recorded so far.
func (s *Sequence) Barriers() int { return s.barriers }

// Submit ends the recording (the first time), submits it and waits for it
// to finish. Writes are then visible to Buffer.Download.
func (s *Sequence) Submit() error {
	if err := s.Start(); err != nil {
		return err
	}
	return s.Wait()
}

// Start ends the recording (the first time) and submits it without
// waiting; Wait waits for it. Sequences started one after the other run
// in that order on the device's queue (with AfterPrevious, each also
// sees the previous ones' writes), so a caller can keep the queue busy
// while deciding whether to start the next one.
func (s *Sequence) Start() error {
	if s.closed {
		return ErrClosed
	}
	if s.running {
		return fmt.Errorf("%w: sequence already started; Wait for it first", ErrInvalid)
	}
	if !s.ended {
		if err := s.begin(); err != nil {
			return err
		}
		if s.written {
			s.barrier(vk.PipelineStageHostBit|vk.PipelineStageTransferBit|vk.PipelineStageComputeShaderBit,
				vk.AccessHostReadBit|vk.AccessTransferReadBit|vk.AccessShaderReadBit)
		}
		if err := vkErr("vkEndCommandBuffer", vk.EndCommandBuffer(s.cmd)); err != nil {
			return err
		}
		s.ended = true
	}
	// Vulkan requires external synchronisation of the queue.
	unlock := s.dev.lockQueue()
	r := queueSubmit(s.dev.queue, s.cmd, s.fence)
	unlock()
	if err := vkErr("vkQueueSubmit", r); err != nil {
		return err
	}
	s.dev.submits.Add(1)
	s.running = true
	return nil
}

// Wait waits until the submission of the last Start has finished (at
// once when none is running). Writes are then visible to Buffer.Download.
// Work on the device cannot be interrupted, so there is no context: a
// caller that wants to stop early starts no further sequences.
func (s *Sequence) Wait() error {
	if s.closed {
		return ErrClosed
	}
	if !s.running {
		return nil
	}
	err := vkErr("vkWaitForFences", vk.WaitForFences(s.dev.handle, 1, []vk.Fence{s.fence}, vk.True, ^uint64(0)))
	if rerr := vkErr("vkResetFences", vk.ResetFences(s.dev.handle, 1, []vk.Fence{s.fence})); err == nil {
		err = rerr
	}
	s.running = false
	s.submitted = s.submitted || err == nil
	return err
}

// Reset discards the recording so the sequence can record anew. It must
// not be called while a submission is running (Submit waits, so it is not).
func (s *Sequence) Reset() error {
	if s.closed {
		return ErrClosed
	}
	if s.running {
		return fmt.Errorf("%w: Reset of a running sequence; Wait for it first", ErrInvalid)
	}
	if err := vkErr("vkResetCommandBuffer", vk.ResetCommandBuffer(s.cmd, 0)); err != nil {
		return err
	}
	s.releaseRecording()
	s.pending = s.pending[:0]
	s.written, s.recording, s.ended, s.submitted = false, false, false, false
	s.labels = s.labels[:0]
	s.barriers, s.dispatches, s.untimed = 0, 0, false
	return nil
}

// Timings returns the GPU time of each dispatch of the last submission,
// in recording order, or nil when timestamps are off or unsupported. A
// sequence of more dispatches than it can time (1024) runs them all but
// returns ErrUntimed here.
func (s *Sequence) Timings() ([]Timing, error) {
	ticks, mask, err := s.ticks()
	if ticks == nil {
		return nil, err
	}
	out := make([]Timing, len(s.labels))
	for i, l := range s.labels {
		out[i] = Timing{Label: l, Duration: s.duration((ticks[2*i+1] - ticks[2*i]) & mask)}
	}
	return out, nil
}

// Span returns the GPU time from the start of the first dispatch of the
// last submission to the end of its last, gaps and barriers included
// (which the Timings leave out), or 0 when timestamps are off or
// unsupported; ErrUntimed as Timings.
func (s *Sequence) Span() (time.Duration, error) {
	ticks, mask, err := s.ticks()
	if ticks == nil {
		return 0, err
	}
	return s.duration((ticks[len(ticks)-1] - ticks[0]) & mask), nil
}

// ticks reads the timestamps of the last submission, two per dispatch,
// and the mask of the device's valid timestamp bits: none, with no error,
// when timestamps are off, unsupported or not yet written, and none with
// ErrUntimed when the sequence had too many dispatches to time.
func (s *Sequence) ticks() ([]uint64, uint64, error) {
	if s.untimed {
		return nil, 0, fmt.Errorf("%w: more than %d dispatches in one sequence", ErrUntimed, maxTimedQueries/2)
	}
	if !s.timestamps || len(s.labels) == 0 || !s.submitted {
		return nil, 0, nil
	}
	n := 2 * len(s.labels)
	ticks := make([]uint64, n)
	if err := vkErr("vkGetQueryPoolResults", vk.GetQueryPoolResults(s.dev.handle, s.queries, 0, uint32(n),
		uint(8*n), unsafe.Pointer(&ticks[0]), 8, vk.QueryResultFlags(vk.QueryResult64Bit|vk.QueryResultWaitBit))); err != nil {
		return nil, 0, err
	}
	mask := ^uint64(0)
	if b := s.dev.info.timestampBits; b < 64 {
		mask = 1<<b - 1
	}
	return ticks, mask, nil
}

func (s *Sequence) duration(ticks uint64) time.Duration {
	return time.Duration(float64(ticks) * float64(s.dev.info.TimestampPeriodNS))
}
