// Package web serves filetrail's web interface for analysts under /gui/:
// a search page, an IP address page (/gui/ip-address/{ip}) and a file page
// (/gui/file/{hash}), from assets embedded in the binary.
//
// The interface is a client of the public API only: the browser calls
// /api/v3/... on the same origin with the analyst's key in the x-apikey
// header, exactly as any VirusTotal client does. The handler itself never
// reads the store and holds no privileged path: it serves static files.
//
// Every response carries a strict Content-Security-Policy: scripts,
// styles, images and API calls come from this origin only; no inline
// script or style, no framing, no third-party host.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"
)

//go:embed assets
var assets embed.FS

//go:embed index.html
var indexSource string

// Prefix is the path the handler serves; Handler expects requests whose
// path starts with it, so mount it at Prefix unchanged (no StripPrefix).
const Prefix = "/gui/"

// ContentSecurityPolicy is sent with every response of the handler.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self'; connect-src 'self'; font-src 'self'; manifest-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Options configure the web interface.
type Options struct {
	// Title names this filetrail instance in the page header and the
	// browser tab; empty is "filetrail".
	Title string
}

// Handler returns the web interface: the embedded assets under
// /gui/assets/, and the application page for /gui/ and every page path
// of the application (/gui/ip-address/..., /gui/file/...; the page's
// script routes them). /gui is redirected to /gui/. Other paths and
// unknown assets are 404. Only GET and HEAD are allowed (405 otherwise).
func Handler(opts Options) http.Handler {
	title := opts.Title
	if title == "" {
		title = "filetrail"
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded directory is part of the binary
	}
	h := &handler{files: map[string]asset{}}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		h.files[p] = newAsset(p, b)
		return nil
	})
	if err != nil {
		panic(err) // reading embedded files does not fail
	}
	var buf bytes.Buffer
	if err := indexTemplate.Execute(&buf, map[string]any{"Title": title}); err != nil {
		panic(err) // static template and string data
	}
	h.index = newAsset("index.html", buf.Bytes())
	return h
}

var indexTemplate = template.Must(template.New("index").Parse(indexSource))

// asset is one file served with its validator.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

func newAsset(name string, body []byte) asset {
	sum := sha256.Sum256(body)
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	return asset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

type handler struct {
	files map[string]asset // by path under assets/
	index asset
}

// pagePath matches the application's own page paths.
var pagePath = regexp.MustCompile(`^/gui/(?:|(?:ip-address|file)/[^/]+)$`)

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	switch {
	case p == "/gui":
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
	case strings.HasPrefix(p, Prefix+"assets/"):
		a, ok := h.files[strings.TrimPrefix(p, Prefix+"assets/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h.serve(w, r, a)
	case pagePath.MatchString(p):
		h.serve(w, r, h.index)
	default:
		http.NotFound(w, r)
	}
}

// serve sends a with its ETag; browsers revalidate on every use
// (no-cache), so a new binary's assets are picked up at once.
func (h *handler) serve(w http.ResponseWriter, r *http.Request, a asset) {
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("ETag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
