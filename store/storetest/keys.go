package storetest

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filetrail/filetrail"
)

// newKey returns a key named name with a fresh secret.
func newKey(name string, created int64, q filetrail.Quota) filetrail.Key {
	return filetrail.Key{ID: "id-" + name, Name: name, SecretHash: filetrail.HashSecret(filetrail.NewSecret()), Quota: q, CreatedAt: created}
}

func createKey(t testing.TB, s filetrail.Store, k filetrail.Key) {
	t.Helper()
	if err := s.CreateKey(t.Context(), k); err != nil {
		t.Fatalf("CreateKey(%s): %v", k.Name, err)
	}
}

// testKeysCreateAndFind: a created key is found by its secret hash with
// every field; an unknown hash gives NotFound.
func testKeysCreateAndFind(t *testing.T, open Opener) {
	s := open(t)
	k := newKey("alice", t0, filetrail.Quota{PerMinute: 4, PerDay: 500, PerMonth: 15500})
	k.Premium, k.Admin = true, false
	createKey(t, s, k)
	got, err := s.KeyBySecretHash(t.Context(), k.SecretHash)
	if err != nil || got != k {
		t.Fatalf("KeyBySecretHash = %+v, %v; want %+v", got, err, k)
	}
	_, err = s.KeyBySecretHash(t.Context(), filetrail.HashSecret("nope"))
	wantCode(t, err, filetrail.CodeNotFound, "KeyBySecretHash(unknown)")
}

// testKeysDuplicates: a key whose ID or Name exists gives AlreadyExists.
func testKeysDuplicates(t *testing.T, open Opener) {
	s := open(t)
	k := newKey("bob", t0, filetrail.Quota{})
	createKey(t, s, k)
	sameName := newKey("bob", t0, filetrail.Quota{})
	sameName.ID = "another-id"
	wantCode(t, s.CreateKey(t.Context(), sameName), filetrail.CodeAlreadyExists, "CreateKey(same name)")
	sameID := newKey("carol", t0, filetrail.Quota{})
	sameID.ID = k.ID
	wantCode(t, s.CreateKey(t.Context(), sameID), filetrail.CodeAlreadyExists, "CreateKey(same id)")
	keys, err := s.ListKeys(t.Context())
	if err != nil || len(keys) != 1 || keys[0] != k {
		t.Errorf("ListKeys = %+v, %v; want only the first key", keys, err)
	}
}

// testKeysList: every key, oldest first.
func testKeysList(t *testing.T, open Opener) {
	s := open(t)
	keys, err := s.ListKeys(t.Context())
	if err != nil || len(keys) != 0 {
		t.Fatalf("ListKeys on an empty store = %v, %v; want none", keys, err)
	}
	want := []filetrail.Key{newKey("k1", t0, filetrail.Quota{}), newKey("k2", t0+10, filetrail.PublicTierQuota), newKey("k3", t0+20, filetrail.Quota{PerDay: 3})}
	for _, i := range []int{2, 0, 1} {
		createKey(t, s, want[i])
	}
	keys, err = s.ListKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, want) {
		t.Errorf("ListKeys =\n %+v\nwant\n %+v", keys, want)
	}
}

// testKeysRevoke: revoke by ID or by Name; the revoked key is still found,
// with RevokedAt set; revoking again changes nothing; unknown → NotFound.
func testKeysRevoke(t *testing.T, open Opener) {
	s := open(t)
	a, b := newKey("a", t0, filetrail.Quota{}), newKey("b", t0, filetrail.Quota{})
	createKey(t, s, a)
	createKey(t, s, b)
	at := time.Unix(t0+500, 0)
	if err := s.RevokeKey(t.Context(), a.ID, at); err != nil {
		t.Fatalf("RevokeKey(id): %v", err)
	}
	if err := s.RevokeKey(t.Context(), b.Name, at.Add(time.Hour)); err != nil {
		t.Fatalf("RevokeKey(name): %v", err)
	}
	if err := s.RevokeKey(t.Context(), a.Name, at.Add(2*time.Hour)); err != nil {
		t.Fatalf("RevokeKey(again): %v", err)
	}
	for k, want := range map[filetrail.Key]int64{a: t0 + 500, b: t0 + 500 + 3600} {
		got, err := s.KeyBySecretHash(t.Context(), k.SecretHash)
		if err != nil || got.RevokedAt != want || !got.Revoked() {
			t.Errorf("key %s after revocation = %+v, %v; want RevokedAt %d", k.Name, got, err, want)
		}
	}
	wantCode(t, s.RevokeKey(t.Context(), "nobody", at), filetrail.CodeNotFound, "RevokeKey(unknown)")
	keys, err := s.ListKeys(t.Context())
	if err != nil || len(keys) != 2 || !keys[0].Revoked() || !keys[1].Revoked() {
		t.Errorf("ListKeys = %+v, %v; want both keys, revoked", keys, err)
	}
}

// now0 is a fixed instant 10 seconds into a minute.
var now0 = time.Date(2025, 3, 14, 12, 30, 10, 0, time.UTC)

func admit(t testing.TB, s filetrail.Store, k filetrail.Key, now time.Time) filetrail.Admission {
	t.Helper()
	a, err := s.Admit(t.Context(), k, now)
	if err != nil {
		t.Fatalf("Admit: %v", err)
	}
	return a
}

// testAdmitLimit: exactly Limit requests per window are admitted; the
// refusal names the window and the time until it ends.
func testAdmitLimit(t *testing.T, open Opener) {
	s := open(t)
	k := newKey("limited", t0, filetrail.Quota{PerMinute: 5})
	createKey(t, s, k)
	for i := range 5 {
		if a := admit(t, s, k, now0.Add(time.Duration(i)*time.Second)); !a.Allowed {
			t.Fatalf("request %d refused: %+v", i, a)
		}
	}
	a := admit(t, s, k, now0.Add(20*time.Second))
	if a.Allowed || a.Window != "minute" || a.RetryAfter != 30*time.Second {
		t.Errorf("6th request = %+v, want refused by minute, retry after 30s", a)
	}
	// A refusal is not counted: the next minute admits 5 again.
	next := now0.Add(time.Minute)
	for i := range 5 {
		if a := admit(t, s, k, next); !a.Allowed {
			t.Fatalf("next minute, request %d refused: %+v", i, a)
		}
	}
	if a := admit(t, s, k, next); a.Allowed {
		t.Errorf("next minute, 6th request admitted")
	}
}

// testAdmitConcurrent: many goroutines at once admit exactly the limit.
func testAdmitConcurrent(t *testing.T, open Opener) {
	s := open(t)
	const limit = 37
	k := newKey("busy", t0, filetrail.Quota{PerMinute: limit, PerDay: 1000})
	createKey(t, s, k)
	var allowed, refused atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				a, err := s.Admit(t.Context(), k, now0)
				if err != nil {
					errs <- err
					return
				}
				if a.Allowed {
					allowed.Add(1)
				} else {
					refused.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Admit: %v", err)
	}
	if allowed.Load() != limit || refused.Load() != 16*20-limit {
		t.Errorf("admitted %d, refused %d; want %d and %d", allowed.Load(), refused.Load(), limit, 16*20-limit)
	}
}

// testAdmitWindows: a new minute admits again while the day window keeps
// counting; the day's refusal waits until midnight UTC.
func testAdmitWindows(t *testing.T, open Opener) {
	s := open(t)
	k := newKey("daily", t0, filetrail.Quota{PerMinute: 2, PerDay: 5, PerMonth: 100})
	createKey(t, s, k)
	got := 0
	for m := range 4 {
		now := now0.Add(time.Duration(m) * time.Minute)
		for range 3 {
			if admit(t, s, k, now).Allowed {
				got++
			}
		}
	}
	if got != 5 {
		t.Errorf("admitted %d over 4 minutes, want the day's 5", got)
	}
	later := now0.Add(10 * time.Minute)
	a := admit(t, s, k, later)
	midnight := time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC)
	if a.Allowed || a.Window != "day" || a.RetryAfter != midnight.Sub(later) {
		t.Errorf("after the day's quota = %+v, want refused by day, retry after %v", a, midnight.Sub(later))
	}
	if a := admit(t, s, k, midnight.Add(time.Second)); !a.Allowed {
		t.Errorf("next day refused: %+v", a)
	}
}

// testAdmitPerKey: each key has its own counters.
func testAdmitPerKey(t *testing.T, open Opener) {
	s := open(t)
	a, b := newKey("a", t0, filetrail.Quota{PerMinute: 1}), newKey("b", t0, filetrail.Quota{PerMinute: 1})
	createKey(t, s, a)
	createKey(t, s, b)
	if !admit(t, s, a, now0).Allowed || !admit(t, s, b, now0).Allowed {
		t.Fatal("first request of a key refused")
	}
	if admit(t, s, a, now0).Allowed || admit(t, s, b, now0).Allowed {
		t.Error("second request of a key admitted")
	}
}

// testAdmitUnlimited: a key without quota is always admitted.
func testAdmitUnlimited(t *testing.T, open Opener) {
	s := open(t)
	k := newKey("free", t0, filetrail.Quota{})
	createKey(t, s, k)
	for i := range 100 {
		if a := admit(t, s, k, now0); !a.Allowed {
			t.Fatalf("request %d of an unlimited key refused: %+v", i, a)
		}
	}
}
