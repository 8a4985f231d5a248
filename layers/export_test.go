package layers

// SetWindowLimit makes the kit split work as if one binding could hold
// only n elements, to test batch and column splitting on small data.
func (k *Kit) SetWindowLimit(n int) { k.limit = n }
