package vtapi_test

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/vtapi"
)

// Every response, success or error, is the same JSON gzip-compressed when
// the client accepts gzip.
func TestGzip(t *testing.T) {
	t.Parallel()
	f := shared(t)
	e := newEnv(t, f, vtapi.Options{})
	paths := []struct{ path, key string }{
		{downloadedPath(bigIP.String()) + "?limit=40", e.premium},
		{"/api/v3/ip_addresses/" + bigIP.String() + "?relationships=downloaded_files", e.premium},
		{"/api/v3/files/" + f.reports[2].SHA1, e.public},
		{"/api/v3/metadata", e.public},
		{"/api/v3/files/" + strings.Repeat("0", 40), e.public}, // 404
		{"/api/v3/metadata", ""},                               // 401
		{"/nowhere", ""},                                       // 404 before authentication
		{"/healthz", ""},
	}
	for _, p := range paths {
		plain := e.get(t, p.path, p.key)
		wantJSONType(t, plain)
		if plain.Header.Get("Content-Encoding") != "" || plain.Header.Get("Content-Length") == "" {
			t.Fatalf("%s: plain response with headers %v", p.path, plain.Header)
		}
		for _, ae := range []string{"gzip", "deflate, gzip;q=0.5", "br, GZIP", "x-gzip"} {
			gz := e.get(t, p.path, p.key, "Accept-Encoding", ae)
			wantJSONType(t, gz)
			if gz.Status != plain.Status || gz.Header.Get("Content-Encoding") != "gzip" || !slices.Contains(gz.Header.Values("Vary"), "Accept-Encoding") {
				t.Fatalf("%s with Accept-Encoding %q: status %d, headers %v", p.path, ae, gz.Status, gz.Header)
			}
			if got := gunzip(t, gz.Body); !bytes.Equal(got, plain.Body) {
				t.Fatalf("%s: gunzipped body differs:\n%s\nwant\n%s", p.path, got, plain.Body)
			}
		}
		for _, ae := range []string{"gzip;q=0", "identity", "deflate, br"} {
			if r := e.get(t, p.path, p.key, "Accept-Encoding", ae); r.Header.Get("Content-Encoding") != "" || !bytes.Equal(r.Body, plain.Body) {
				t.Fatalf("%s with Accept-Encoding %q: compressed", p.path, ae)
			}
		}
	}
}

func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// allLinks collects every string under a "self", "next" or "related" key.
func allLinks(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && (k == "self" || k == "next" || k == "related") {
				out = append(out, s)
			}
			out = append(out, allLinks(x)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, allLinks(x)...)
		}
	}
	return out
}

// Links are absolute, on the configured public URL or else on the host the
// client used, and they replay.
func TestLinks(t *testing.T) {
	t.Parallel()
	f := shared(t)
	const public = "https://ft.example.org"
	withURL := newEnv(t, f, vtapi.Options{PublicURL: public + "/"})
	byHost := newEnv(t, f, vtapi.Options{})
	paths := []string{
		downloadedPath(bigIP.String()) + "?limit=3",
		downloadedPath(bigIP.String()) + "?limit=3&descriptors_only=true",
		"/api/v3/ip_addresses/" + bigIP.String() + "?relationships=downloaded_files",
		"/api/v3/ip_addresses/" + bigIP.String() + "/relationships/downloaded_files?limit=2",
		"/api/v3/files/" + f.reports[0].MD5 + "?relationships=itw_ips",
		"/api/v3/files/" + f.reports[0].MD5 + "/itw_ips?limit=1",
	}
	for _, p := range paths {
		for _, tc := range []struct {
			e      *env
			host   string
			prefix string
		}{
			{withURL, "", public + "/api/v3/"},
			{withURL, "other.test", public + "/api/v3/"},
			{byHost, "", byHost.srv.URL + "/api/v3/"},
			{byHost, "ft.test:8443", "http://ft.test:8443/api/v3/"},
		} {
			var headers []string
			if tc.host != "" {
				headers = []string{"Host", tc.host}
			}
			r := tc.e.get(t, p, tc.e.premium, headers...)
			var v any
			wantOK(t, r, &v)
			ls := allLinks(v)
			if len(ls) < 2 {
				t.Fatalf("%s: only %d links", p, len(ls))
			}
			for _, l := range ls {
				if !strings.HasPrefix(l, tc.prefix) {
					t.Fatalf("%s (Host %q): link %s does not start with %s", p, tc.host, l, tc.prefix)
				}
				// Every link works on the server, with the same key.
				target := tc.e.srv.URL + "/api/v3/" + strings.TrimPrefix(l, tc.prefix)
				if got := do(t, http.MethodGet, target, tc.e.premium); got.Status != http.StatusOK {
					t.Fatalf("%s: link %s gives %d", p, l, got.Status)
				}
			}
			if strings.Contains(string(r.Body), "virustotal.com") {
				t.Fatalf("%s: a link to VirusTotal", p)
			}
		}
	}
}

// IPv6 ids arrive raw or with encoded colons; IPv4-mapped becomes IPv4.
func TestIPForms(t *testing.T) {
	t.Parallel()
	f := shared(t)
	e := newEnv(t, f, vtapi.Options{})
	v6 := reportsV6.String()
	for _, tc := range []struct{ raw, id string }{
		{v6, v6},
		{strings.ReplaceAll(v6, ":", "%3A"), v6},
		{strings.ReplaceAll(v6, ":", "%3a"), v6},
		{"2001:DB8:0:0:0:0:0:7", v6},
		{"2001%3A0db8%3A0000%3A0000%3A0000%3A0000%3A0000%3A0007", v6},
		{"::ffff:" + reportsIP.String(), reportsIP.String()},
		{"%3A%3Affff%3A" + reportsIP.String(), reportsIP.String()},
		{" " + reportsIP.String(), reportsIP.String()},
	} {
		raw := strings.ReplaceAll(tc.raw, " ", "%20")
		var obj struct {
			Data item `json:"data"`
		}
		wantOK(t, e.get(t, "/api/v3/ip_addresses/"+raw, e.public), &obj)
		if obj.Data.ID != tc.id || obj.Data.Links.Self != e.srv.URL+"/api/v3/ip_addresses/"+tc.id {
			t.Fatalf("%s: id %s, self %s", tc.raw, obj.Data.ID, obj.Data.Links.Self)
		}
		var c collection
		wantOK(t, e.get(t, downloadedPath(raw), e.premium), &c)
		ip := netip.MustParseAddr(tc.id)
		if !slices.Equal(itemIDs(c), f.ids(ip)) || c.Links.Self != e.srv.URL+downloadedPath(tc.id)+"?limit=10" {
			t.Fatalf("%s: items %v, self %s", tc.raw, itemIDs(c), c.Links.Self)
		}
		if again := do(t, http.MethodGet, c.Links.Self, e.premium); again.Status != http.StatusOK {
			t.Fatalf("%s: self %s gives %d", tc.raw, c.Links.Self, again.Status)
		}
	}
}

// The IP object: attributes from the store's summary, and embedded
// relationships the key may see.
func TestIPObject(t *testing.T) {
	t.Parallel()
	f := shared(t)
	e := newEnv(t, f, vtapi.Options{})
	sum, err := f.store.IPSummary(t.Context(), bigIP)
	if err != nil {
		t.Fatal(err)
	}
	type object struct {
		Data struct {
			item
			Relationships map[string]collection `json:"relationships"`
		} `json:"data"`
	}
	var o object
	wantOK(t, e.get(t, "/api/v3/ip_addresses/"+bigIP.String(), e.public), &o)
	var attrs map[string]int64
	decodeRaw(t, o.Data.Attributes, &attrs)
	if o.Data.Type != "ip_address" || len(attrs) != 1 || attrs["last_modification_date"] != sum.LastSeen || sum.LastSeen == 0 || o.Data.Relationships != nil {
		t.Fatalf("IP object %+v, attributes %v, summary %+v", o.Data, attrs, sum)
	}

	base := e.srv.URL + "/api/v3/ip_addresses/" + bigIP.String()
	for _, q := range []string{"downloaded_files", "downloaded_files,downloaded_files", " downloaded_files ,", "downloaded_files&relationships=downloaded_files"} {
		var o object
		wantOK(t, e.get(t, "/api/v3/ip_addresses/"+bigIP.String()+"?relationships="+strings.ReplaceAll(q, " ", "%20"), e.premium), &o)
		if len(o.Data.Relationships) != 1 {
			t.Fatalf("relationships=%s: %v", q, o.Data.Relationships)
		}
		rel := o.Data.Relationships["downloaded_files"]
		if !slices.Equal(itemIDs(rel), f.ids(bigIP)[:vtapi.EmbeddedPageLimit]) || *rel.Meta.Count != bigCount || rel.Meta.Cursor == "" {
			t.Fatalf("embedded: %d items, meta %+v", len(rel.Data), rel.Meta)
		}
		for _, d := range rel.Data {
			if d.Attributes != nil || d.Links != nil || d.ContextAttributes == nil {
				t.Fatalf("embedded item is not a descriptor with context: %+v", d)
			}
		}
		if rel.Links.Self != base+"/relationships/downloaded_files?limit=20" || rel.Links.Related != base+"/downloaded_files" ||
			rel.Links.Next != base+"/relationships/downloaded_files?cursor="+rel.Meta.Cursor+"&limit=20" {
			t.Fatalf("embedded links %+v", rel.Links)
		}
		var next collection
		wantOK(t, do(t, http.MethodGet, rel.Links.Next, e.premium), &next)
		if !slices.Equal(itemIDs(next), f.ids(bigIP)[20:40]) {
			t.Fatal("the embedded next link does not continue the list")
		}
	}
	// A relationship the key may not see is left out; the object is there.
	r := e.get(t, "/api/v3/ip_addresses/"+bigIP.String()+"?relationships=downloaded_files", e.public)
	var pub object
	wantOK(t, r, &pub)
	if pub.Data.ID != bigIP.String() || len(pub.Data.Relationships) != 0 || strings.Contains(string(r.Body), "downloaded_files") {
		t.Fatalf("public key: %s", r.Body)
	}
	// An unknown IP embeds an empty list.
	var empty object
	wantOK(t, e.get(t, "/api/v3/ip_addresses/"+emptyIP.String()+"?relationships=downloaded_files", e.premium), &empty)
	if rel := empty.Data.Relationships["downloaded_files"]; rel.Data == nil || len(rel.Data) != 0 || *rel.Meta.Count != 0 || rel.Links.Next != "" {
		t.Fatalf("unknown IP embedded %+v", rel)
	}
}

// The file object: asked by any hash, its id is the stored one and its
// attributes are the stored document, verbatim.
func TestFileObject(t *testing.T) {
	t.Parallel()
	f := shared(t)
	e := newEnv(t, f, vtapi.Options{})
	for _, rep := range f.reports {
		stored, err := f.store.File(t.Context(), rep.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range []string{rep.MD5, rep.SHA1, rep.SHA256, strings.ToUpper(rep.MD5)} {
			var o struct {
				Data item `json:"data"`
			}
			wantOK(t, e.get(t, "/api/v3/files/"+h, e.public), &o)
			if o.Data.Type != "file" || o.Data.ID != stored.ID || o.Data.Links.Self != e.srv.URL+"/api/v3/files/"+stored.ID {
				t.Fatalf("files/%s: %+v", h, o.Data)
			}
			if !bytes.Equal(o.Data.Attributes, stored.Attributes) {
				t.Fatalf("files/%s: attributes are not the stored document", h)
			}
		}
		// Every attribute of the imported report is kept.
		var reportAttrs, got map[string]any
		decodeRaw(t, rep.Attributes, &reportAttrs)
		decodeRaw(t, stored.Attributes, &got)
		for name := range reportAttrs {
			if _, ok := got[name]; !ok {
				t.Errorf("%s: attribute %s of the report is missing", rep.SHA256, name)
			}
		}
	}
}

// itw_ips: the IPs that served a file, newest first, ties by IP text
// descending, as IP objects or descriptors with the edge's context.
func TestITWIPs(t *testing.T) {
	t.Parallel()
	f := shared(t)
	e := newEnv(t, f, vtapi.Options{})
	rep := f.reports[0]
	type want struct {
		ip        string
		firstSeen int64
		evidence  []filetrail.Evidence
	}
	var wants []want
	for ip, es := range f.edges {
		for _, ed := range es {
			if ed.ID == rep.SHA256 {
				wants = append(wants, want{ip.String(), ed.FirstSeen, ed.Evidence})
			}
		}
	}
	slices.SortFunc(wants, func(a, b want) int {
		if c := cmp.Compare(b.firstSeen, a.firstSeen); c != 0 {
			return c
		}
		return strings.Compare(b.ip, a.ip)
	})
	if len(wants) < 2 {
		t.Fatal("the fixture should have a file served by several IPs")
	}
	for _, tc := range []struct {
		path string
		full bool
	}{
		{"/api/v3/files/" + rep.MD5 + "/itw_ips", true},
		{"/api/v3/files/" + rep.SHA256 + "/itw_ips?descriptors_only=true", false},
		{"/api/v3/files/" + rep.SHA1 + "/relationships/itw_ips", false},
	} {
		var c collection
		wantOK(t, e.get(t, tc.path, e.premium), &c)
		if len(c.Data) != len(wants) || *c.Meta.Count != int64(len(wants)) {
			t.Fatalf("%s: %d items, count %d, want %d", tc.path, len(c.Data), *c.Meta.Count, len(wants))
		}
		for i, it := range c.Data {
			w := wants[i]
			_, _, ctx := filetrail.EdgeContext(w.evidence)
			if it.Type != "ip_address" || it.ID != w.ip || !bytes.Equal(it.ContextAttributes, ctx) {
				t.Fatalf("%s: item %d %+v, want %s with context %s", tc.path, i, it, w.ip, ctx)
			}
			if !tc.full {
				if it.Attributes != nil || it.Links != nil {
					t.Fatalf("%s: item %d is not a descriptor", tc.path, i)
				}
				continue
			}
			sum, err := f.store.IPSummary(t.Context(), netip.MustParseAddr(w.ip))
			if err != nil {
				t.Fatal(err)
			}
			var attrs map[string]int64
			decodeRaw(t, it.Attributes, &attrs)
			if attrs["last_modification_date"] != sum.LastSeen || it.Links.Self != e.srv.URL+"/api/v3/ip_addresses/"+w.ip {
				t.Fatalf("%s: item %d attributes %v links %+v", tc.path, i, attrs, it.Links)
			}
		}
	}
	// An itw_ips walk with limit 1 gives every IP once.
	pages := walk(t, e, "/api/v3/files/"+rep.SHA256+"/itw_ips?limit=1", e.premium)
	if len(itemIDs(pages...)) != len(wants) {
		t.Fatalf("walk: %v", itemIDs(pages...))
	}
}

func TestMetadata(t *testing.T) {
	t.Parallel()
	f := shared(t)
	e := newEnv(t, f, vtapi.Options{})
	var md struct {
		Data struct {
			Relationships map[string][]struct{ Name, Description string } `json:"relationships"`
			Privileges    []string                                        `json:"privileges"`
			Engines       map[string]any                                  `json:"engines"`
		} `json:"data"`
	}
	wantOK(t, e.get(t, "/api/v3/metadata", e.public), &md)
	ip, file := md.Data.Relationships["ip_address"], md.Data.Relationships["file"]
	if len(ip) != 1 || ip[0].Name != "downloaded_files" || ip[0].Description != "Files downloaded from the IP address." {
		t.Fatalf("ip_address relationships %+v", ip)
	}
	if len(file) != 1 || file[0].Name != "itw_ips" || file[0].Description == "" {
		t.Fatalf("file relationships %+v", file)
	}
	if !slices.Equal(md.Data.Privileges, []string{"premium", "admin"}) || md.Data.Engines == nil {
		t.Fatalf("privileges %v, engines %v", md.Data.Privileges, md.Data.Engines)
	}
	// Every relationship listed is served.
	for _, rel := range ip {
		if r := e.get(t, "/api/v3/ip_addresses/"+reportsIP.String()+"/"+rel.Name, e.premium); r.Status != 200 {
			t.Fatalf("%s: %d", rel.Name, r.Status)
		}
	}
	for _, rel := range file {
		if r := e.get(t, "/api/v3/files/"+f.reports[0].SHA256+"/"+rel.Name, e.premium); r.Status != 200 {
			t.Fatalf("%s: %d", rel.Name, r.Status)
		}
	}
}

// HEAD is answered like GET, without a body.
func TestHead(t *testing.T) {
	t.Parallel()
	f := shared(t)
	e := newEnv(t, f, vtapi.Options{})
	r := do(t, http.MethodHead, e.srv.URL+"/api/v3/files/"+f.reports[0].SHA256, e.public)
	if r.Status != 200 || len(r.Body) != 0 || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("HEAD: %d %v %q", r.Status, r.Header, r.Body)
	}
}
