package vtapi_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	vt "github.com/VirusTotal/vt-go"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/vtapi"
)

// hashAnalyzer is an Analyze hook that computes the hashes and size only
// (the API must not depend on the analyser).
type hashAnalyzer struct{ calls atomic.Int64 }

func (h *hashAnalyzer) analyze(_ context.Context, data []byte) (filetrail.Hashes, json.RawMessage, error) {
	h.calls.Add(1)
	m, s1, s2 := md5.Sum(data), sha1.Sum(data), sha256.Sum256(data)
	hs := filetrail.Hashes{MD5: hex.EncodeToString(m[:]), SHA1: hex.EncodeToString(s1[:]), SHA256: hex.EncodeToString(s2[:])}
	attrs, _ := json.Marshal(map[string]any{"md5": hs.MD5, "sha1": hs.SHA1, "sha256": hs.SHA256, "size": len(data), "magic": "test data"})
	return hs, attrs, nil
}

// multipartBody returns a multipart/form-data body with one part.
func multipartBody(t *testing.T, field string, content []byte) (io.Reader, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, err := mw.CreateFormFile(field, "sample.bin")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(content)
	mw.Close()
	return &b, mw.FormDataContentType()
}

func postMultipart(t *testing.T, url, key, field string, content []byte) response {
	t.Helper()
	body, ct := multipartBody(t, field, content)
	req, err := http.NewRequest(http.MethodPost, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	if key != "" {
		req.Header.Set("x-apikey", key)
	}
	res, err := plainClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

type analysisDescriptor struct {
	Data struct {
		Type  string `json:"type"`
		ID    string `json:"id"`
		Links struct {
			Self string `json:"self"`
		} `json:"links"`
	} `json:"data"`
}

func adminKey(t *testing.T, f *fixture) string {
	admin := filetrail.NewSecret()
	if err := f.store.CreateKey(context.Background(), filetrail.Key{ID: "adm", Name: "admin", SecretHash: filetrail.HashSecret(admin), Admin: true, CreatedAt: baseTime}); err != nil {
		t.Fatal(err)
	}
	return admin
}

func TestUploadAnalysisAndFile(t *testing.T) {
	f := newFixture(t)
	hook := &hashAnalyzer{}
	e := newEnv(t, f, vtapi.Options{Analyze: hook.analyze, MaxUploadBytes: 1000})
	admin := adminKey(t, f)
	sample := []byte("a sample uploaded to filetrail, not known before")
	url := e.srv.URL + "/api/v3/files"

	wantError(t, postMultipart(t, url, "", "file", sample), http.StatusUnauthorized, filetrail.CodeAuthenticationRequired)
	wantError(t, postMultipart(t, url, e.premium, "file", sample), http.StatusForbidden, filetrail.CodeForbidden)
	wantError(t, postMultipart(t, url, admin, "other", sample), http.StatusBadRequest, filetrail.CodeBadRequest)
	wantError(t, post(t, url, admin, strings.NewReader("not multipart")), http.StatusBadRequest, filetrail.CodeBadRequest)
	wantError(t, postMultipart(t, url, admin, "file", bytes.Repeat([]byte("x"), 1001)), http.StatusRequestEntityTooLarge, filetrail.CodeBadRequest)
	if n := hook.calls.Load(); n != 0 {
		t.Fatalf("analyser ran %d times for refused uploads", n)
	}

	var d analysisDescriptor
	wantOK(t, postMultipart(t, url, admin, "file", sample), &d)
	if d.Data.Type != "analysis" || d.Data.ID == "" || d.Data.Links.Self != e.srv.URL+"/api/v3/analyses/"+d.Data.ID {
		t.Fatalf("descriptor %+v", d)
	}
	sum := sha256.Sum256(sample)
	id := hex.EncodeToString(sum[:])

	var an struct {
		Data struct {
			Type       string `json:"type"`
			Attributes struct {
				Status string         `json:"status"`
				Stats  map[string]int `json:"stats"`
			} `json:"attributes"`
		} `json:"data"`
		Meta struct {
			FileInfo struct {
				SHA256 string `json:"sha256"`
				Size   int    `json:"size"`
			} `json:"file_info"`
		} `json:"meta"`
	}
	wantOK(t, e.get(t, "/api/v3/analyses/"+d.Data.ID, e.public), &an)
	if an.Data.Type != "analysis" || an.Data.Attributes.Status != "completed" || an.Meta.FileInfo.SHA256 != id || an.Meta.FileInfo.Size != len(sample) {
		t.Fatalf("analysis %+v", an)
	}
	if _, ok := an.Data.Attributes.Stats["malicious"]; !ok {
		t.Fatalf("stats %v", an.Data.Attributes.Stats)
	}
	var file struct {
		Data struct {
			ID         string         `json:"id"`
			Attributes map[string]any `json:"attributes"`
		} `json:"data"`
	}
	wantOK(t, e.get(t, "/api/v3/files/"+id, e.public), &file)
	if file.Data.ID != id || file.Data.Attributes["magic"] != "test data" {
		t.Fatalf("file %+v", file)
	}
	wantError(t, e.get(t, "/api/v3/analyses/bm90LWFuLWlk", e.public), http.StatusNotFound, filetrail.CodeNotFound)
}

func TestUploadURL(t *testing.T) {
	f := newFixture(t)
	hook := &hashAnalyzer{}
	e := newEnv(t, f, vtapi.Options{Analyze: hook.analyze, MaxUploadBytes: 10, MaxLargeUploadBytes: 1000})
	admin := adminKey(t, f)
	wantError(t, e.get(t, "/api/v3/files/upload_url", e.premium), http.StatusForbidden, filetrail.CodeForbidden)
	var u struct {
		Data string `json:"data"`
	}
	wantOK(t, e.get(t, "/api/v3/files/upload_url", admin), &u)
	if !strings.HasPrefix(u.Data, e.srv.URL+"/api/v3/uploads/") {
		t.Fatalf("upload url %q", u.Data)
	}
	big := bytes.Repeat([]byte("large sample "), 50) // over MaxUploadBytes, under the large limit
	wantError(t, postMultipart(t, e.srv.URL+"/api/v3/files", admin, "file", big), http.StatusRequestEntityTooLarge, filetrail.CodeBadRequest)
	var d analysisDescriptor
	wantOK(t, postMultipart(t, u.Data, admin, "file", big), &d)
	if d.Data.Type != "analysis" {
		t.Fatalf("descriptor %+v", d)
	}
	// One use only.
	wantError(t, postMultipart(t, u.Data, admin, "file", big), http.StatusNotFound, filetrail.CodeNotFound)
}

func TestUploadWithoutHook(t *testing.T) {
	e := newEnv(t, newFixture(t), vtapi.Options{})
	admin := adminKey(t, e.fixture)
	wantError(t, postMultipart(t, e.srv.URL+"/api/v3/files", admin, "file", []byte("x")), http.StatusNotFound, filetrail.CodeNotFound)
	wantError(t, e.get(t, "/api/v3/files/upload_url", admin), http.StatusNotFound, filetrail.CodeNotFound)
}

// The official client's FileScanner uploads and reads the analysis back.
// Not parallel: vt.SetHost changes the client's global state.
func TestUploadWithOfficialClient(t *testing.T) {
	f := newFixture(t)
	hook := &hashAnalyzer{}
	e := newEnv(t, f, vtapi.Options{Analyze: hook.analyze})
	admin := adminKey(t, f)
	vt.SetHost(e.srv.URL)
	t.Cleanup(func() { vt.SetHost("https://www.virustotal.com") })
	client := vt.NewClient(admin)
	sample := []byte("uploaded through vt-go's FileScanner")
	obj, err := client.NewFileScanner().Scan(bytes.NewReader(sample), "s.bin", nil)
	if err != nil {
		t.Fatal(err)
	}
	if obj.Type() != "analysis" || obj.ID() == "" {
		t.Fatalf("scan answered %s %q", obj.Type(), obj.ID())
	}
	an, err := client.GetObject(vt.URL("analyses/%s", obj.ID()))
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := an.GetString("status"); st != "completed" {
		t.Fatalf("status %q", st)
	}
	sum := sha256.Sum256(sample)
	file, err := client.GetObject(vt.URL("files/%s", hex.EncodeToString(sum[:])))
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := file.GetString("magic"); m != "test data" {
		t.Fatalf("magic %q", m)
	}
}
