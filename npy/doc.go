// Package npy reads the weight files of tensorflow-vgg (vgg16.npy,
// vgg19.npy) and numpy .npy and .npz arrays, and writes .npy and .npz.
//
//	layers, err := npy.ReadWeights("vgg16.npy")
//	fc6 := layers["fc6"] // fc6.W.Shape is [25088 4096], fc6.B.Shape [4096]
//
// Every array comes back as float32 in C order (Array); float16 and float64
// data are converted, big-endian data is swapped, Fortran-order data is
// rearranged. Other dtypes are refused with ErrDType.
//
// # Weight files
//
// ReadWeights and DecodeWeights detect the format from the first bytes:
//
//   - An .npy of a pickled dict, as np.save({name: [W, b]}) writes it: a 0-d
//     object array whose data is a pickle. The published files were written
//     by Python 2 (protocol 2, byte strings, numpy.core.multiarray); files
//     written by Python 3 with numpy 1.x (protocol 2 to 5) or numpy 2.x
//     (numpy._core) load too. Each layer's value may be [W, b], (W, b),
//     {0: W, 1: b} or {'weights': W, 'biases': b}; dicts may be
//     collections.OrderedDict.
//   - An .npz (zip, stored or deflated) with one array per layer_W and
//     layer_b member, or per layer/0 and layer/1.
//   - A bare pickle of the dict (starting with the PROTO opcode).
//
// # The pickle machine
//
// Pickles are run by a small unpickler of this package's own. It knows the
// opcodes such files use (protocols 0 to 5, without out-of-band buffers;
// protocol 0's text strings only up to 1 MB each) and calls no Python: it recognises a whitelist of globals, numpy's
// _reconstruct, ndarray, dtype and _frombuffer, _codecs.encode (how Python 3
// pickles bytes at protocol 2), bytes, bytearray and collections.OrderedDict,
// and implements each itself. Any other global is an error that names it.
//
// # Memory
//
// String and bytes payloads above a few KB are not read while unpickling:
// they stay offsets into the input, and each array is read once, straight
// from the io.ReaderAt into its float32 storage (little-endian float32 with
// no staging copy). Loading a float32 weight file from disk therefore
// allocates about the file's size and little else: TestPeakMemory measures
// 1.002x for a 49 MB Python-2-style .npy (49.1 MB allocated in all, peak
// heap growth 49.0 MB) and 1.000x for the same layers as a stored .npz.
// float16 files give float32 arrays twice their size. Reading from an
// in-memory DecodeWeights input adds the input itself.
//
// # Untrusted input
//
// The readers do not panic on any input and allocate nothing a header or a
// length opcode merely claims: every length is checked against the bytes
// left in the input before allocating, shape products are checked for
// overflow, and the unpickler's stack, mark depth and memo are bounded. The
// output of a pickle may not exceed twice its input (float16 data doubles)
// however it shares arrays. Every error wraps ErrFormat, ErrTruncated (which
// also matches ErrFormat) or ErrDType and says what is wrong and where.
// FuzzDecodeWeights and FuzzReadNPY exercise this; their corpus is kept in
// testdata/fuzz at the repository root.
package npy
