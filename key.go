package filetrail

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Key is an API key's record. The secret itself is never stored: only
// HashSecret of it.
type Key struct {
	ID         string // public identifier, shown by `keys list`; never the secret
	Name       string // unique human name
	SecretHash string // HashSecret(secret)
	Premium    bool
	Admin      bool
	Quota      Quota
	CreatedAt  int64 // Unix seconds
	RevokedAt  int64 // Unix seconds; 0 while the key is valid
}

// Revoked reports whether the key has been revoked.
func (k Key) Revoked() bool { return k.RevokedAt != 0 }

// Quota is a key's request allowance per window; 0 means unlimited.
type Quota struct {
	PerMinute int64
	PerDay    int64
	PerMonth  int64
}

// PublicTierQuota mirrors VirusTotal's public API allowance.
var PublicTierQuota = Quota{PerMinute: 4, PerDay: 500, PerMonth: 15500}

// Unlimited reports whether no window is limited.
func (q Quota) Unlimited() bool { return q.PerMinute == 0 && q.PerDay == 0 && q.PerMonth == 0 }

// NewSecret returns a new random key secret: 64 lower-case hex characters,
// like a VirusTotal key.
func NewSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// HashSecret returns the stored form of a key secret (hex SHA-256). Secrets
// are 256 random bits, so a fast hash is enough: there is nothing to brute
// force.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// QuotaWindow is one counting window of a quota.
type QuotaWindow struct {
	Name  string // "minute", "day" or "month"; stored
	Start int64  // Unix seconds, inclusive
	End   int64  // Unix seconds, exclusive
	Limit int64  // 0 means unlimited
}

// Windows returns the quota's windows that contain now (UTC): the minute,
// the day starting 00:00 UTC, the month starting on the 1st 00:00 UTC.
// Unlimited windows are left out.
func (q Quota) Windows(now time.Time) []QuotaWindow {
	now = now.UTC()
	minute := now.Truncate(time.Minute)
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	var ws []QuotaWindow
	add := func(name string, start, end time.Time, limit int64) {
		if limit > 0 {
			ws = append(ws, QuotaWindow{Name: name, Start: start.Unix(), End: end.Unix(), Limit: limit})
		}
	}
	add("minute", minute, minute.Add(time.Minute), q.PerMinute)
	add("day", day, day.AddDate(0, 0, 1), q.PerDay)
	add("month", month, month.AddDate(0, 1, 0), q.PerMonth)
	return ws
}

// Admission is the answer to a quota check.
type Admission struct {
	Allowed bool
	// RetryAfter is, when refused, the time until the exhausted window ends.
	RetryAfter time.Duration
	// Window names the exhausted window when refused.
	Window string
}
