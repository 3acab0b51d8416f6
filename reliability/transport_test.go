package reliability

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a throwaway certificate for 127.0.0.1 and its key as
// PEM files and returns their paths and a pool trusting it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "filetrail test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// serve --tls-cert/--tls-key serves HTTPS on both listeners; a client
// speaking plain HTTP gets no API answer; bad TLS flags fail at start-up.
func TestTLS(t *testing.T) {
	t.Parallel()
	store := filepath.Join(t.TempDir(), "ft.db")
	key := createKey(t, store, "reader", "--premium")
	certFile, keyFile, pool := selfSigned(t)
	s := startServe(t, store, "--tls-cert", certFile, "--tls-key", keyFile, "--admin-addr", "127.0.0.1:0")
	if !strings.HasPrefix(s.URL, "https://") || !strings.HasPrefix(s.Admin, "https://") {
		t.Fatalf("listening on %s and %s, want https URLs", s.URL, s.Admin)
	}
	tc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for _, u := range []string{s.URL + "/api/v3/metadata", s.Admin + "/metrics"} {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("x-apikey", key)
		res, err := tc.Do(req)
		if err != nil {
			t.Fatalf("GET %s over TLS: %v", u, err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || res.TLS == nil {
			t.Errorf("GET %s: status %d, TLS %v; want 200 over TLS", u, res.StatusCode, res.TLS != nil)
		}
	}
	// plain HTTP to the TLS port: refused by the TLS layer, never the API
	plain := "http://" + strings.TrimPrefix(s.URL, "https://") + "/api/v3/metadata"
	if r, err := send("GET", plain, key, nil); err == nil && r.Status == 200 {
		t.Errorf("plain HTTP to the TLS listener answered 200")
	}
	// an untrusted client refuses the certificate: it is the one served
	if _, err := (&http.Client{Timeout: 30 * time.Second}).Get(s.URL + "/healthz"); err == nil {
		t.Errorf("a client without the test CA accepted the certificate")
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", certFile}, "go together"},
		{[]string{"--tls-cert", keyFile, "--tls-key", certFile}, "TLS certificate"},
	} {
		_, errOut, err := run(t, append([]string{"serve", "--store", store, "--addr", "127.0.0.1:0"}, c.args...)...)
		if err == nil || !strings.Contains(errOut, c.want) {
			t.Errorf("serve %v: %v, stderr %q; want a failure saying %q", c.args, err, errOut, c.want)
		}
	}
}

// With --admin-addr the admin paths (/admin/..., /metrics) are served on
// the admin listener only, the API on the public one only, and the
// health probes on both. Without it, everything is on the public one.
func TestAdminListener(t *testing.T) {
	t.Parallel()
	store := filepath.Join(t.TempDir(), "ft.db")
	admin := createKey(t, store, "admin", "--admin", "--premium")
	s := startServe(t, store, "--admin-addr", "127.0.0.1:0")
	ingestBody := `{"ip":"192.0.2.10","sha256":"` + strings.Repeat("ab", 32) + `","seen_at":1700000000,"source":"test"}` + "\n"
	post := func(base, encodedPath string) reply {
		r, err := send("POST", base+encodedPath+"?format=sightings", admin, strings.NewReader(ingestBody))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// public listener: no admin path, however spelt
	wantVTError(t, "public /metrics", mustGet(t, s.URL+"/metrics", admin), 404, "NotFoundError")
	wantVTError(t, "public POST /admin/v1/ingest", post(s.URL, "/admin/v1/ingest"), 404, "NotFoundError")
	wantVTError(t, "public POST /%61dmin/v1/ingest", post(s.URL, "/%61dmin/v1/ingest"), 404, "NotFoundError")
	if r := mustGet(t, s.URL+"/api/v3/ip_addresses/192.0.2.10/downloaded_files", admin); r.Status != 200 || strings.Contains(string(r.Body), strings.Repeat("ab", 32)) {
		t.Fatalf("public API: %d %s; want 200 and nothing ingested through the public listener", r.Status, r.Body)
	}
	// admin listener: admin paths and probes only
	if r := post(s.Admin, "/admin/v1/ingest"); r.Status != 200 {
		t.Errorf("admin POST /admin/v1/ingest: %d %s", r.Status, r.Body)
	}
	if r := mustGet(t, s.Admin+"/metrics", ""); r.Status != 200 || !strings.Contains(string(r.Body), "filetrail_http_requests_total") {
		t.Errorf("admin /metrics: %d %.200s", r.Status, r.Body)
	}
	wantVTError(t, "admin-listener API path", mustGet(t, s.Admin+"/api/v3/metadata", admin), 404, "NotFoundError")
	wantVTError(t, "admin-listener web interface", mustGet(t, s.Admin+"/gui/", admin), 404, "NotFoundError")
	for _, base := range []string{s.URL, s.Admin} {
		for _, p := range []string{"/healthz", "/readyz"} {
			if r := mustGet(t, base+p, ""); r.Status != 200 {
				t.Errorf("%s%s: %d", base, p, r.Status)
			}
		}
	}
	// what the admin listener ingested, the public API serves
	if r := mustGet(t, s.URL+"/api/v3/ip_addresses/192.0.2.10/downloaded_files", admin); r.Status != 200 || !strings.Contains(string(r.Body), strings.Repeat("ab", 32)) {
		t.Errorf("public API after admin ingest: %d %s", r.Status, r.Body)
	}
	s.Stop(t)

	// no --admin-addr: /metrics and ingestion on the one listener
	one := startServe(t, store)
	if r := mustGet(t, one.URL+"/metrics", ""); r.Status != 200 {
		t.Errorf("/metrics without --admin-addr: %d", r.Status)
	}
	if r := post(one.URL, "/admin/v1/ingest"); r.Status != 200 {
		t.Errorf("POST /admin/v1/ingest without --admin-addr: %d %s", r.Status, r.Body)
	}
}

// No secret reaches the logs, at debug level, whatever the requests do
// with it: valid, wrong, revoked, in the header, the query string, the
// path, the body, a throttled address.
func TestKeysNeverLogged(t *testing.T) {
	t.Parallel()
	store := filepath.Join(t.TempDir(), "ft.db")
	_, keysLog, err := run(t, "--log-level", "debug", "keys", "create", "--store", store, "--name", "logged")
	if err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, "--log-level", "debug", "keys", "create", "--store", store, "--name", "admin", "--admin", "--premium")
	admin, _, _ := strings.Cut(out, "\n")
	revoked := createKey(t, store, "revoked", "--premium")
	mustRun(t, "keys", "revoke", "--store", store, "revoked")
	_, listLog, _ := run(t, "--log-level", "debug", "keys", "list", "--store", store)
	wrong := "wrong-" + strings.Repeat("f", 58)
	s := startServe(t, store, "--log-level", "debug", "--wrong-key-limit", "3")
	secrets := []string{admin, revoked, wrong}
	for _, sec := range secrets {
		for _, p := range []string{
			"/api/v3/metadata",
			"/api/v3/ip_addresses/192.0.2.1/downloaded_files?apikey=" + sec,
			"/api/v3/files/" + sec,
			"/metrics",
			"/nowhere/" + sec,
		} {
			send("GET", s.URL+p, sec, nil)
			send("GET", s.URL+p, "", nil, "Authorization", "Bearer "+sec)
		}
		send("POST", s.URL+"/admin/v1/ingest?format=sightings", sec, strings.NewReader(`{"ip":"`+sec+`"}`+"\n"))
		send("POST", s.URL+"/api/v3/files", sec, strings.NewReader("not multipart"))
	}
	s.Stop(t)
	logs := keysLog + listLog + s.Logs.String()
	if !strings.Contains(logs, `"level":"DEBUG"`) && !strings.Contains(logs, "level=DEBUG") {
		t.Logf("note: no debug line was logged")
	}
	if !strings.Contains(logs, "listening") {
		t.Fatalf("the serve log was not captured: %q", logs)
	}
	for _, sec := range secrets {
		if strings.Contains(logs, sec) {
			t.Errorf("secret %.8s... appears in the logs", sec)
		}
	}
}
