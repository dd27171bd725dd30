package merkle

// SetWideShare sets wideShare (11: never hash whole parts) until the returned func restores it.
func SetWideShare(tenths int) (restore func()) {
	old := wideShare
	wideShare = tenths
	return func() { wideShare = old }
}
