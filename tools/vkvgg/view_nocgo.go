//go:build !cgo || noview

package main

import (
	"context"
	"errors"
	"io"
)

var errNoViewer = errors.New("view: this vkvgg was built without the viewer (without cgo, or with -tags noview): rebuild with CGO_ENABLED=1 and no noview tag (Debian packages: make deps)")

func runViewer(ctx context.Context, o viewOptions, stdout io.Writer) error { return errNoViewer }
