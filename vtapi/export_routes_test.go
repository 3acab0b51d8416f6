package vtapi

import "net/http"

// RoutePatterns lists the route patterns a handler of New registered.
func RoutePatterns(h http.Handler) []string { return h.(*server).patterns }
