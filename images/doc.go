// Package images loads photographs into the float32 RGB arrays that VGG16 and
// VGG19 take, following tensorflow-vgg's utils.load_image.
//
// An RGB holds an image as float32 red, green and blue in [0, 1], row-major,
// height x width x 3 (HWC). LoadVGG does what load_image does: decode, cut the
// centred square of the short side (CenterCrop), resize it to 224 x 224
// (Resize). Batch stacks images into the [N, H, W, 3] array a network runs on.
// Subtracting the per-channel mean and reordering to BGR is the network's job,
// as it is in tensorflow-vgg, not this package's.
//
// # Decoding
//
// Decode and Load read JPEG, PNG, GIF (its first frame, at the frame's own
// bounds), and WebP and BMP through golang.org/x/image. Channels are scaled to [0, 1] from their stored depth: 8-bit values
// are divided by 255, 16-bit PNG values by 65535. Greyscale is copied to all
// three channels.
//
// Alpha is dropped, not composited onto a background: each pixel's colour is
// taken as stored. For straight (non-premultiplied) alpha, as in PNG, that is
// the file's colour even where alpha is 0, which is what dropping the fourth
// channel of skimage.io.imread's array gives; PNG palette entries made
// transparent by a tRNS chunk keep their colour too. A GIF's transparent
// palette entry has no colour in Go's decoder and reads as black. Images that
// Go holds premultiplied are un-premultiplied first.
//
// JPEG is decoded by Go's image/jpeg, whose results differ slightly from
// libjpeg's (as used by Pillow under skimage.io.imread): Go upsamples
// subsampled chroma by replication where libjpeg interpolates, and its inverse
// DCT and colour conversion round differently. After LoadVGG the difference
// is 0.0014 on average, 0.023 at most, for chelsea.jpg (colour, 4:2:0), and
// 5e-5 on average for rocket_gray.jpg (greyscale); PNG decodes identically.
//
// Before decoding, the header's dimensions are checked (image.DecodeConfig):
// images of more than MaxPixels pixels are refused without allocating them
// (refusing a PNG header that claims 100000 x 100000 costs Decode 6 KB, 10
// KB from a reader that cannot seek). Malformed input gives an error that
// wraps ErrFormat, ErrUnreadable, ErrEmpty or ErrTooLarge; no input makes
// Decode panic.
//
// # Memory
//
// Go's decoders return the whole image. Decode and Load convert it, row by
// row, to the 12 bytes per pixel of an RGB; from 4 megapixels up they first
// collect what the decoder left behind, so that their peak is the larger of
// what the decoder holds while decoding and the decoded image plus the RGB.
// LoadVGG never converts the whole image: it reads the centred square from
// the decoded image a few rows at a time as it resizes, so its peak is the
// decoder's plus 48/size bytes per pixel of the square (the float32 rows
// that one output row's filter spans, 0.2 bytes at size 224) and at most
// 160*size*size bytes of work space (8 MB at 224). In bytes per pixel:
//
//	input                       decoded   decoding    Load   LoadVGG(224)
//	PNG 8-bit grey, palette; GIF   1       1 (2)        13      1 (2)
//	PNG 8-bit colour               4       4 (8)        16      4 (8)
//	PNG 16-bit colour              8       8 (16)       20      8 (16)
//	JPEG grey                      1       1 (5)        13      1 (5)
//	JPEG 4:2:0 colour            1.5     1.5 (7.5)    13.5    1.5 (7.5)
//	JPEG 4:4:4 colour              3       3 (15)       15      3 (15)
//	JPEG CMYK                      4       8 (24)     16 (24)   8 (24)
//	BMP                            4       4            16      4
//	WebP lossy (alpha)           1.5 (2.5)  2.5         14.5    2.5
//	WebP lossless                  4      16            28     16
//
// The BMP and WebP rows are the bounds FuzzDecode asserts for those
// decoders (golang.org/x/image), not measurements at MaxPixels.
//
// Figures in brackets are for interlaced PNGs and GIFs (the passes, or a
// copy, as much again as the image) and progressive JPEGs (4 bytes per
// pixel per component for the coefficients). A grey PNG with a transparent
// grey (tRNS) decodes as RGBA of its depth, 4 or 8 bytes; a 3-component
// JPEG stored as RGB adds 4 for its conversion. JPEG sizes are rounded up
// to whole MCUs (8 to 32 pixels). At MaxPixels, Load needs 1.3 GB (grey PNG)
// to 2.0 GB (16-bit PNG), or 2.4 GB for a progressive CMYK JPEG; LoadVGG
// 0.13 GB to 0.8 GB (1.6 GB interlaced), or 2.4 GB for that JPEG.
//
// Measured by TestPeakMemory, which runs each case in a fresh process and
// checks its peak resident set (getrusage) above an idle one against this
// table, allowing 32 MB for the runtime (16 MB is the most seen); go1.26,
// linux/amd64:
//
//	10000 x 10000 grey PNG (121 KB)     Load 1.30 GB   LoadVGG 0.13 GB, 1.5 s
//	10000 x 10000 RGB PNG (317 KB)      Load 1.60 GB   LoadVGG 0.43 GB, 1.9 s
//	10000 x 10000 progressive CMYK JPEG Load 2.40 GB   LoadVGG 2.43 GB
//	2048 x 2048 interlaced 16-bit PNG   Load 20.2      LoadVGG 16.3 bytes/pixel
//
// Before LoadVGG resized from the decoded image, it converted the whole
// image and cropped a copy: 2.61 GB and 2.2 s for the grey PNG, 2.92 GB for
// the RGB one. Nor did Load collect the decoder's garbage before converting,
// or convert 16-bit and CMYK images without allocating per pixel: for a
// 5000 x 5000 progressive CMYK JPEG, Load took 917 MB and 1.6 s, now 604 MB
// and 0.8 s, and LoadVGG 1175 MB, now 617 MB.
//
// Images under 4 megapixels are not worth a collection: for them Load's
// peak can reach the sum of the decoder's peak and the RGB. All these are
// the peaks of a fresh process with Go's default collector settings: in a
// program with garbage of its own the collector lets the heap grow by up to
// GOGC percent of the live heap before reclaiming any, and GOMEMLIMIT caps
// that.
//
// FuzzDecode checks, for every input, that Decode allocates in all at most
// the table's decoding figure plus 12 bytes per pixel of the header's size,
// plus 128 KB and twice the input's length (when the reader cannot seek, the
// header is kept to be read again): so a header over the limit is refused
// before any pixel memory is allocated. Its seeds include the worst cases
// per pixel (an interlaced 16-bit PNG, progressive CMYK and YCbCr JPEGs).
// Run for 5 minutes on 2026-11-30 (-fuzztime 5m -parallel 1: 837,980
// inputs, 194 new interesting ones), it found no failure;
// testdata/fuzz/FuzzDecode keeps the inputs that earlier runs found.
//
// # Resizing
//
// Resize reproduces skimage.transform.resize(image, (h, w)) with its current
// defaults, as scikit-image 0.19.3 computes them (the tests check against
// it): where an axis shrinks by a factor s > 1, a
// Gaussian pre-filter with sigma = (s-1)/2 (truncated at 4 sigma, mirror
// boundary) against aliasing; then bilinear interpolation at pixel centres,
// input coordinate (i+0.5)*s - 0.5, mirrored at the borders; then clipping to
// the input's range. Computation is in float64.
//
// This filter was chosen over an area average or a scaled triangle filter
// because it is what tensorflow-vgg's preprocessing does, so the network sees
// the inputs its reference outputs were made with, and it is fully specified
// by the formulas above. Checked against scikit-image 0.19.3 itself
// (testdata/images/golden, made by make_golden.py) at sizes up and down, the
// results agree within 6e-8, float32 rounding. For comparison, on a
// photograph cropped and resized to 224 x 224, an area average differs from
// skimage by 0.006 on average (0.13 at most) and Pillow's bilinear, a
// triangle filter widened by the shrink factor, by 0.004 (0.16 at most).
package images
