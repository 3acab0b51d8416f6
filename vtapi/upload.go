package vtapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/filetrail/filetrail"
)

// AnalyzeFunc computes the VT File attributes of an uploaded sample: its
// hashes and a JSON object of attributes. It must bound its own work (the
// server runs it in the request). An error with a code (InvalidArgument)
// is answered as such; any other is a 500.
type AnalyzeFunc func(ctx context.Context, data []byte) (filetrail.Hashes, json.RawMessage, error)

// Upload limits and names.
const (
	// DefaultMaxUploadBytes bounds a POST /api/v3/files body (VirusTotal's
	// own limit for that endpoint is 32 MB; bigger files go through an
	// upload URL).
	DefaultMaxUploadBytes = 32 << 20
	// DefaultMaxLargeUploadBytes bounds a body posted to an upload URL.
	DefaultMaxLargeUploadBytes = 650 << 20
	// DefaultUploadTimeout bounds one upload request, analysis included.
	DefaultUploadTimeout = 10 * time.Minute
	// uploadURLTTL is how long an upload URL stays valid.
	uploadURLTTL = time.Hour
	// maxUploadURLs bounds the upload URLs outstanding at once.
	maxUploadURLs = 10000
	// AnalysisSource is the Source of the file facts uploads store.
	AnalysisSource = "filetrail-analysis"
	uploadsPrefix  = "/api/v3/uploads/"
)

// uploads serves the upload endpoints.
type uploads struct {
	analyze  AnalyzeFunc
	maxSmall int64
	maxLarge int64
	timeout  time.Duration

	mu     sync.Mutex
	tokens map[string]time.Time // upload URL token -> expiry
}

func newUploads(opts Options) *uploads {
	if opts.Analyze == nil {
		return nil
	}
	u := &uploads{
		analyze:  opts.Analyze,
		maxSmall: opts.MaxUploadBytes,
		maxLarge: opts.MaxLargeUploadBytes,
		timeout:  DefaultUploadTimeout,
		tokens:   map[string]time.Time{},
	}
	if u.maxSmall <= 0 {
		u.maxSmall = DefaultMaxUploadBytes
	}
	if u.maxLarge <= 0 {
		u.maxLarge = DefaultMaxLargeUploadBytes
	}
	if u.maxLarge < u.maxSmall {
		u.maxLarge = u.maxSmall
	}
	return u
}

// uploadRoutes registers the upload endpoints (all 404 without an
// Analyze hook). Uploading needs an admin key: keys carry no separate
// submit privilege.
func (s *server) uploadRoutes(handle func(string, http.HandlerFunc)) {
	handle("/api/v3/files", s.postFile(false))
	handle(uploadsPrefix+"{token}", s.postFile(true))
	handle("/api/v3/files/upload_url", s.api(false, s.uploadURL))
	handle("/api/v3/analyses/{id}", s.api(false, s.analysisObject))
}

func (s *server) noUploads(w http.ResponseWriter, r *http.Request) {
	s.fail(w, r, filetrail.Errorf(filetrail.CodeNotFound, "Path %q not found", truncate(r.URL.Path, 200)))
}

// uploadURL answers GET /api/v3/files/upload_url with a one-time URL
// valid for an hour: {"data": "<url>"}.
func (s *server) uploadURL(req *apiRequest) (work, error) {
	if s.uploads == nil {
		return nil, filetrail.Errorf(filetrail.CodeNotFound, "Path %q not found", req.r.URL.Path)
	}
	if !req.key.Admin {
		return nil, filetrail.Errorf(filetrail.CodeForbidden, msgForbidden)
	}
	return func(_ context.Context, out *body) error {
		tok, err := s.uploads.newToken(s.now())
		if err != nil {
			return err
		}
		b := append(out.b, `{"data":`...)
		b = appendString(b, req.base+uploadsPrefix+tok)
		out.b = append(b, '}')
		return nil
	}, nil
}

func (u *uploads) newToken(now time.Time) (string, error) {
	var r [24]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(r[:])
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.tokens) >= maxUploadURLs {
		for t, exp := range u.tokens {
			if now.After(exp) {
				delete(u.tokens, t)
			}
		}
		if len(u.tokens) >= maxUploadURLs {
			return "", filetrail.Errorf(filetrail.CodeTransient, "too many upload URLs outstanding; retry later")
		}
	}
	u.tokens[tok] = now.Add(uploadURLTTL)
	return tok, nil
}

// useToken consumes an upload URL token; false when unknown or expired.
func (u *uploads) useToken(tok string, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	exp, ok := u.tokens[tok]
	delete(u.tokens, tok)
	return ok && !now.After(exp)
}

// postFile answers POST /api/v3/files and POST to an upload URL: an admin
// key (401/403 otherwise), a multipart/form-data body whose "file" part
// is the sample (400 without one, 413 past the size limit). The sample is
// analysed, the analysis stored as a file fact of origin analysis, and an
// analysis descriptor answered: {"data":{"type":"analysis","id":..,
// "links":{"self":..}}}.
func (s *server) postFile(viaURL bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.uploads == nil {
			s.noUploads(w, r)
			return
		}
		u := s.uploads
		r, key, cancel, ok := s.beginAdminPost(w, r, u.timeout)
		if !ok {
			return
		}
		defer cancel()
		ctx := r.Context()
		limit := u.maxSmall
		if viaURL {
			if !u.useToken(r.PathValue("token"), s.now()) {
				s.fail(w, r, filetrail.Errorf(filetrail.CodeNotFound, "Upload URL unknown, used or expired"))
				return
			}
			limit = u.maxLarge
		}
		if err := s.admit(ctx, key); err != nil {
			s.fail(w, r, err)
			return
		}
		// multipart framing adds a little to the file itself
		data, err := filePart(r, longBody(w, r, limit+64<<10), limit)
		if err != nil {
			s.failBody(w, r, err)
			return
		}
		hashes, attrs, err := u.analyze(ctx, data)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		fact := filetrail.FileFact{Hashes: hashes, Origin: filetrail.OriginAnalysis, Source: AnalysisSource, Attributes: attrs}
		_, err = s.store.Apply(ctx, &filetrail.Batch{Files: []filetrail.FileFact{fact}})
		s.writesDone()
		if err != nil {
			s.fail(w, r, err)
			return
		}
		id := analysisID(hashes.MD5, s.now().Unix())
		b := append([]byte(nil), `{"data":{"type":"analysis","id":`...)
		b = appendString(b, id)
		b = append(b, `,"links":{"self":`...)
		b = appendString(b, s.base(r)+"/api/v3/analyses/"+id)
		b = append(b, `}}}`...)
		writeJSON(w, r, http.StatusOK, b)
	}
}

// filePart reads the "file" part of a multipart/form-data body, at most
// limit bytes.
func filePart(r *http.Request, body io.Reader, limit int64) ([]byte, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, filetrail.Errorf(filetrail.CodeBadRequest, "Expected a multipart/form-data body with a \"file\" part")
	}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil, filetrail.Errorf(filetrail.CodeBadRequest, "No \"file\" part in the multipart body")
		}
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return nil, err
			}
			return nil, filetrail.Errorf(filetrail.CodeBadRequest, "Malformed multipart body: %v", err)
		}
		if p.FormName() != "file" {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(p, limit+1))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return nil, err
			}
			return nil, filetrail.Errorf(filetrail.CodeBadRequest, "Reading the file part: %v", err)
		}
		if int64(len(data)) > limit {
			return nil, &http.MaxBytesError{Limit: limit}
		}
		return data, nil
	}
}

// analysisID is VirusTotal's form of a file analysis id: base64 of
// "<md5>:<unix time>".
func analysisID(md5 string, at int64) string {
	return base64.URLEncoding.EncodeToString([]byte(md5 + ":" + strconv.FormatInt(at, 10)))
}

// parseAnalysisID reverses analysisID (standard or URL-safe base64).
func parseAnalysisID(id string) (md5 string, at int64, err error) {
	raw, err := base64.URLEncoding.DecodeString(id)
	if err != nil {
		raw, err = base64.StdEncoding.DecodeString(id)
	}
	bad := filetrail.Errorf(filetrail.CodeNotFound, "Analysis %q not found", truncate(id, 100))
	if err != nil {
		return "", 0, bad
	}
	h, ts, ok := strings.Cut(string(raw), ":")
	if !ok || len(h) != 32 {
		return "", 0, bad
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", 0, bad
	}
	at, err = strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", 0, bad
	}
	return strings.ToLower(h), at, nil
}

// analysisObject answers GET /api/v3/analyses/{id}: a completed analysis
// (filetrail analyses synchronously) with all-zero engine stats and the
// file's hashes in meta.file_info; NotFound for an id whose file is not
// stored.
func (s *server) analysisObject(req *apiRequest) (work, error) {
	if s.uploads == nil {
		return nil, filetrail.Errorf(filetrail.CodeNotFound, "Path %q not found", req.r.URL.Path)
	}
	id := req.r.PathValue("id")
	md5, at, err := parseAnalysisID(id)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, out *body) error {
		f, err := s.store.File(ctx, md5)
		if err != nil {
			if filetrail.ErrorCode(err) == filetrail.CodeNotFound {
				return filetrail.Errorf(filetrail.CodeNotFound, "Analysis %q not found", truncate(id, 100))
			}
			return err
		}
		var info struct {
			SHA256 string `json:"sha256,omitempty"`
			SHA1   string `json:"sha1,omitempty"`
			MD5    string `json:"md5,omitempty"`
			Size   int64  `json:"size,omitempty"`
		}
		_ = json.Unmarshal(f.Attributes, &info)
		if info.MD5 == "" {
			info.MD5 = md5
		}
		fi, err := json.Marshal(info)
		if err != nil {
			return err
		}
		b := append(out.b, `{"data":{"type":"analysis","id":`...)
		b = appendString(b, id)
		b = append(b, `,"links":{"self":`...)
		b = appendString(b, req.base+"/api/v3/analyses/"+id)
		b = append(b, fmt.Sprintf(`},"attributes":{"date":%d,"status":"completed","stats":{"harmless":0,"type-unsupported":0,"suspicious":0,"confirmed-timeout":0,"timeout":0,"failure":0,"malicious":0,"undetected":0},"results":{}}},"meta":{"file_info":`, at)...)
		b = append(b, fi...)
		out.b = append(b, `}}`...)
		return nil
	}, nil
}
