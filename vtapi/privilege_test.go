package vtapi_test

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/vtapi"
)

// keyKinds are the kinds of x-apikey a request can carry, in the column
// order of TestEveryRouteEveryKeyKind's table.
var keyKinds = []string{"none", "wrong", "revoked", "public", "premium", "admin"}

// TestEveryRouteEveryKeyKind sends every route of the API, with every kind
// of key, and checks the status: no route is reachable without its
// privilege. The routes come from the handler itself, so a route added
// without a row here fails the test.
func TestEveryRouteEveryKeyKind(t *testing.T) {
	fx := newFixture(t)
	analyze := func(_ context.Context, data []byte) (filetrail.Hashes, json.RawMessage, error) {
		s256, s1, m5 := sha256.Sum256(data), sha1.Sum(data), md5.Sum(data)
		return filetrail.Hashes{SHA256: hex.EncodeToString(s256[:]), SHA1: hex.EncodeToString(s1[:]), MD5: hex.EncodeToString(m5[:])},
			json.RawMessage(`{}`), nil
	}
	ingest := func(_ context.Context, _, _ string, body io.Reader) (any, error) {
		n, err := io.Copy(io.Discard, body)
		return map[string]int64{"bytes": n}, err
	}
	opts := vtapi.Options{Analyze: analyze, Ingest: ingest}
	e := newEnv(t, fx, opts)
	keys := map[string]string{"none": "", "wrong": filetrail.NewSecret(), "public": e.public, "premium": e.premium}
	keys["admin"] = newKeyWith(t, fx, filetrail.Key{Admin: true})
	keys["revoked"] = newKeyWith(t, fx, filetrail.Key{Name: "to-revoke", Premium: true, Admin: true})
	if err := fx.store.RevokeKey(context.Background(), "to-revoke", time.Unix(baseTime, 0)); err != nil {
		t.Fatal(err)
	}

	sha := fx.reports[0].SHA256
	ip := reportsIP.String()
	// an analysis to read back, and a fresh upload URL for every request
	// that needs one
	up := postMultipart(t, e.srv.URL+"/api/v3/files", keys["admin"], "file", []byte("a sample"))
	var analysis struct{ Data struct{ ID string } }
	wantOK(t, up, &analysis)
	uploadURL := func() string {
		var u struct{ Data string }
		wantOK(t, e.get(t, "/api/v3/files/upload_url", keys["admin"]), &u)
		return u.Data
	}

	const (
		unauth = http.StatusUnauthorized
		forbid = http.StatusForbidden
		ok     = http.StatusOK
	)
	anyKey := []int{unauth, unauth, unauth, ok, ok, ok}
	premiumOnly := []int{unauth, unauth, unauth, forbid, ok, forbid}
	adminOnly := []int{unauth, unauth, unauth, forbid, forbid, ok}
	open := []int{ok, ok, ok, ok, ok, ok}
	type row struct {
		method string
		url    func() string // absolute URL
		want   []int         // by keyKinds
	}
	path := func(p string) func() string { return func() string { return e.srv.URL + p } }
	table := map[string]row{
		"/api/v3/ip_addresses/{id}":                                {"GET", path("/api/v3/ip_addresses/" + ip), anyKey},
		"/api/v3/ip_addresses/{id}/downloaded_files":               {"GET", path("/api/v3/ip_addresses/" + ip + "/downloaded_files"), premiumOnly},
		"/api/v3/ip_addresses/{id}/relationships/downloaded_files": {"GET", path("/api/v3/ip_addresses/" + ip + "/relationships/downloaded_files"), premiumOnly},
		"/api/v3/files/{id}":                                       {"GET", path("/api/v3/files/" + sha), anyKey},
		"/api/v3/files/{id}/itw_ips":                               {"GET", path("/api/v3/files/" + sha + "/itw_ips"), premiumOnly},
		"/api/v3/files/{id}/relationships/itw_ips":                 {"GET", path("/api/v3/files/" + sha + "/relationships/itw_ips"), premiumOnly},
		"/api/v3/metadata":                                         {"GET", path("/api/v3/metadata"), anyKey},
		"/admin/v1/ingest":                                         {"POST", path("/admin/v1/ingest?format=sightings"), adminOnly},
		"/api/v3/files":                                            {"POST", path("/api/v3/files"), adminOnly},
		"/api/v3/uploads/{token}":                                  {"POST", uploadURL, adminOnly},
		"/api/v3/files/upload_url":                                 {"GET", path("/api/v3/files/upload_url"), adminOnly},
		"/api/v3/analyses/{id}":                                    {"GET", path("/api/v3/analyses/" + analysis.Data.ID), anyKey},
		"/healthz":                                                 {"GET", path("/healthz"), open},
		"/readyz":                                                  {"GET", path("/readyz"), open},
		"/metrics":                                                 {"GET", path("/metrics"), open},
	}
	patterns := vtapi.RoutePatterns(vtapi.New(fx.store, opts))
	for _, p := range patterns {
		if _, ok := table[p]; !ok {
			t.Errorf("route %s has no row in the privilege table", p)
		}
	}
	for p := range table {
		if !slices.Contains(patterns, p) {
			t.Errorf("row %s names no route of the handler", p)
		}
	}
	for _, p := range patterns {
		r, found := table[p]
		if !found {
			continue
		}
		for i, kind := range keyKinds {
			var res response
			if r.method == http.MethodPost {
				res = postMultipart(t, r.url(), keys[kind], "file", []byte("some evidence\n"))
			} else {
				res = do(t, r.method, r.url(), keys[kind])
			}
			if res.Status != r.want[i] {
				t.Errorf("%s %s with key %s: status %d, want %d; body %.200s", r.method, p, kind, res.Status, r.want[i], res.Body)
				continue
			}
			switch {
			case res.Status == unauth:
				code := filetrail.CodeWrongCredentials
				if kind == "none" {
					code = filetrail.CodeAuthenticationRequired
				}
				wantError(t, res, unauth, code)
			case res.Status == forbid:
				wantError(t, res, forbid, filetrail.CodeForbidden)
			case p != "/metrics":
				wantJSONType(t, res)
			}
		}
	}
}

// newKeyWith stores k (ID, Name and secret filled in when empty) and
// returns its secret.
func newKeyWith(t *testing.T, f *fixture, k filetrail.Key) string {
	t.Helper()
	secret := filetrail.NewSecret()
	n := keySeq.Add(1)
	if k.ID == "" {
		k.ID = fmt.Sprintf("k%d", n)
	}
	if k.Name == "" {
		k.Name = fmt.Sprintf("key-%d", n)
	}
	k.SecretHash, k.CreatedAt = filetrail.HashSecret(secret), baseTime
	if err := f.store.CreateKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return secret
}
