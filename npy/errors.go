package npy

import (
	"archive/zip"
	"compress/flate"
	"errors"
	"fmt"
	"io"
)

// Sentinel errors, for errors.Is. Every error the package returns for a bad
// file wraps one of them and says in its text what is wrong and where.
var (
	// ErrFormat marks malformed input: not an npy, npz or pickle file, a bad
	// npy header, a pickle that is not a dict of layers, a layer entry of the
	// wrong shape, array data whose length does not match its shape, a
	// forbidden pickle global, a corrupt zip member. Truncated input matches
	// it too.
	ErrFormat = errors.New("npy: malformed file")

	// ErrTruncated marks input that ends before the data it announces: a
	// header, a pickle opcode or an array cut short, or a header whose shape
	// needs more bytes than the file has. Errors matching ErrTruncated also
	// match ErrFormat.
	ErrTruncated = errors.New("npy: truncated file")

	// ErrDType marks a well-formed array of a dtype other than float16,
	// float32 or float64 (integers, booleans, complex, strings, objects,
	// structured dtypes). The error text names the dtype.
	ErrDType = errors.New("npy: unsupported dtype")
)

// fileError is an error of this package. kind is ErrFormat, ErrTruncated,
// ErrDType, or nil for an I/O error (cause); cause is also set, with kind
// ErrFormat, to the error of a caller's shape check that refused an array.
// msg says what and where, without the "npy: " prefix that Error adds.
type fileError struct {
	kind  error
	msg   string
	cause error
}

func (e *fileError) Error() string { return "npy: " + e.msg }

func (e *fileError) Unwrap() []error {
	var errs []error
	switch {
	case e.kind == ErrTruncated:
		errs = []error{ErrTruncated, ErrFormat}
	case e.kind != nil:
		errs = []error{e.kind}
	}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

func formatErr(format string, args ...any) error {
	return &fileError{kind: ErrFormat, msg: fmt.Sprintf(format, args...)}
}

func truncErr(format string, args ...any) error {
	return &fileError{kind: ErrTruncated, msg: fmt.Sprintf(format, args...)}
}

func dtypeErr(format string, args ...any) error {
	return &fileError{kind: ErrDType, msg: fmt.Sprintf(format, args...)}
}

// refused is the ErrFormat error for a shape that a caller's check
// refused: it matches ErrFormat and the check's own error.
func refused(err error, format string, args ...any) error {
	return &fileError{kind: ErrFormat, msg: fmt.Sprintf(format, args...) + ": " + err.Error(), cause: err}
}

// wrap prefixes err's text with context ("layer \"fc6\" W"), keeping what
// errors.Is and errors.As see.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	ctx := fmt.Sprintf(format, args...)
	if fe, ok := err.(*fileError); ok {
		return &fileError{kind: fe.kind, msg: ctx + ": " + fe.msg, cause: fe.cause}
	}
	return &fileError{msg: ctx + ": " + err.Error(), cause: err}
}

// ioErr turns an error from reading what must be there (what: "the npy
// header", "the array data (...)") into a truncation error, a corrupt
// compressed stream into a format error, and passes other I/O errors on
// with that context.
func ioErr(err error, what string) error {
	var fe *fileError
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return truncErr("truncated: the input ends inside %s", what)
	case errors.As(err, &fe):
		return wrap(fe, "%s", what)
	case errors.As(err, &corrupt), errors.Is(err, zip.ErrChecksum), errors.Is(err, zip.ErrFormat),
		errors.Is(err, zip.ErrAlgorithm):
		return formatErr("%s is corrupt: %v", what, err)
	}
	return &fileError{msg: "reading " + what + ": " + err.Error(), cause: err}
}
