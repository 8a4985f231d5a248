package graph

// SetTransferLimit sets the largest host transfer buffer a plan records
// (in bytes) for a test and returns a function that restores it.
func SetTransferLimit(n int64) func() {
	old := transferLimit
	transferLimit = n
	return func() { transferLimit = old }
}
