package graph

// SetTransferLimit sets the largest host transfer buffer the plans a Net
// makes from now on record, in bytes (0: none, everything goes through
// the staging buffer).
func (n *Net) SetTransferLimit(limit int64) {
	n.mu.lock()
	defer n.mu.unlock()
	n.transferLimit = limit
}
