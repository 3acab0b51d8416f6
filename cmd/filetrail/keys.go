package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/filetrail/filetrail"
)

type keysCmd struct {
	Create keysCreateCmd `cmd:"" help:"Create a key; prints its secret alone on the first line of output (it is shown only once)."`
	List   keysListCmd   `cmd:"" help:"List keys (never their secrets)."`
	Revoke keysRevokeCmd `cmd:"" help:"Revoke a key by ID or name."`
}

type keysCreateCmd struct {
	storeFlag   `embed:""`
	Name        string `help:"Unique name of the key." required:"" env:"FILETRAIL_KEY_NAME"`
	Premium     bool   `help:"Grant the premium privilege (downloaded_files, itw_ips)." env:"FILETRAIL_KEY_PREMIUM"`
	Admin       bool   `help:"Grant the admin privilege (key management, ingestion endpoints)." env:"FILETRAIL_KEY_ADMIN"`
	PublicTier  bool   `help:"Apply VirusTotal's public API quota (4/minute, 500/day, 15500/month); --quota-* flags override its windows." env:"FILETRAIL_KEY_PUBLIC_TIER"`
	QuotaMinute int64  `help:"Requests per minute; 0 is unlimited." env:"FILETRAIL_KEY_QUOTA_MINUTE"`
	QuotaDay    int64  `help:"Requests per day (UTC); 0 is unlimited." env:"FILETRAIL_KEY_QUOTA_DAY"`
	QuotaMonth  int64  `help:"Requests per month (UTC); 0 is unlimited." env:"FILETRAIL_KEY_QUOTA_MONTH"`
}

func (c *keysCreateCmd) Run(a *app) error {
	if c.QuotaMinute < 0 || c.QuotaDay < 0 || c.QuotaMonth < 0 {
		return fmt.Errorf("quotas must not be negative")
	}
	var q filetrail.Quota
	if c.PublicTier {
		q = filetrail.PublicTierQuota
	}
	if c.QuotaMinute > 0 {
		q.PerMinute = c.QuotaMinute
	}
	if c.QuotaDay > 0 {
		q.PerDay = c.QuotaDay
	}
	if c.QuotaMonth > 0 {
		q.PerMonth = c.QuotaMonth
	}
	st, err := openStore(a.ctx, c.Store)
	if err != nil {
		return err
	}
	defer st.Close()
	secret, k, err := createKey(a, st, c.Name, c.Premium, c.Admin, q)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, secret)
	fmt.Fprintf(a.stdout, "id: %s\nname: %s\nprivileges: %s\nquota: %s\n", k.ID, k.Name, privileges(k), quotaText(k.Quota))
	return nil
}

// createKey makes a key with a new secret and stores it. It returns the
// secret, which is not kept anywhere.
func createKey(a *app, st store, name string, premium, admin bool, q filetrail.Quota) (string, filetrail.Key, error) {
	if strings.TrimSpace(name) == "" {
		return "", filetrail.Key{}, fmt.Errorf("a key needs a name")
	}
	secret := filetrail.NewSecret()
	k := filetrail.Key{
		ID:         newKeyID(),
		Name:       name,
		SecretHash: filetrail.HashSecret(secret),
		Premium:    premium,
		Admin:      admin,
		Quota:      q,
		CreatedAt:  time.Now().Unix(),
	}
	if err := st.CreateKey(a.ctx, k); err != nil {
		return "", filetrail.Key{}, fmt.Errorf("creating key %q: %w", name, err)
	}
	a.log.Info("key created", "id", k.ID, "name", k.Name, "privileges", privileges(k))
	return secret, k, nil
}

// newKeyID returns a public key identifier: 16 random hex characters,
// unrelated to the secret.
func newKeyID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}

func privileges(k filetrail.Key) string {
	var p []string
	if k.Premium {
		p = append(p, "premium")
	}
	if k.Admin {
		p = append(p, "admin")
	}
	if len(p) == 0 {
		return "-"
	}
	return strings.Join(p, ",")
}

func quotaText(q filetrail.Quota) string {
	if q.Unlimited() {
		return "unlimited"
	}
	n := func(v int64) string {
		if v == 0 {
			return "-"
		}
		return fmt.Sprint(v)
	}
	return fmt.Sprintf("%s/min %s/day %s/month", n(q.PerMinute), n(q.PerDay), n(q.PerMonth))
}

type keysListCmd struct {
	storeFlag `embed:""`
}

func (c *keysListCmd) Run(a *app) error {
	st, err := openStore(a.ctx, c.Store)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := st.ListKeys(a.ctx)
	if err != nil {
		return err
	}
	return writeKeyTable(a.stdout, keys)
}

// writeKeyTable prints keys as a table. Secrets are never stored, so they
// cannot appear; the secret hash is not shown either.
func writeKeyTable(w io.Writer, keys []filetrail.Key) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPRIVILEGES\tQUOTA\tCREATED\tREVOKED")
	day := func(t int64) string {
		if t == 0 {
			return "-"
		}
		return time.Unix(t, 0).UTC().Format(time.RFC3339)
	}
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, privileges(k), quotaText(k.Quota), day(k.CreatedAt), day(k.RevokedAt))
	}
	return tw.Flush()
}

type keysRevokeCmd struct {
	storeFlag `embed:""`
	Key       string `arg:"" name:"id-or-name" help:"ID or name of the key to revoke."`
}

func (c *keysRevokeCmd) Run(a *app) error {
	st, err := openStore(a.ctx, c.Store)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.RevokeKey(a.ctx, c.Key, time.Now()); err != nil {
		if filetrail.ErrorCode(err) == filetrail.CodeNotFound {
			return fmt.Errorf("no key with ID or name %q", c.Key)
		}
		return err
	}
	fmt.Fprintf(a.stdout, "revoked %s\n", c.Key)
	return nil
}
