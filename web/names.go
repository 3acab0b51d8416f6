package web

import (
	"slices"
	"time"
)

// timeZero makes http.ServeContent skip Last-Modified: assets are
// validated by ETag only.
var timeZero time.Time

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
