// Package storetest is the conformance suite of filetrail.Store: every
// behaviour a store must show, tested only through the interface. Each store
// implementation runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) filetrail.Store { ... })
//	}
//
// A behaviour tested on one store only is a bug in this suite.
package storetest

import (
	"testing"

	"github.com/filetrail/filetrail"
)

// Opener returns a new, empty store for the test t and arranges (with
// t.Cleanup) for it to be closed and removed. A test may call it more than
// once; each call must give a store that shares nothing with the others.
type Opener func(t *testing.T) filetrail.Store

// Run runs every conformance test as a subtest of t.
func Run(t *testing.T, open func(t *testing.T) filetrail.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"Apply/EdgesFromSightings", testEdgesFromSightings},
		{"Apply/EdgeContext", testEdgeContext},
		{"Apply/Counts", testCounts},
		{"Apply/Result", testApplyResult},
		{"Apply/SightingWithoutIP", testSightingWithoutIP},
		{"Apply/MappedIPv6", testMappedIPv6},
		{"Apply/InvalidRecords", testInvalidRecords},
		{"Apply/InvalidBatchAppliesNothing", testInvalidBatchAppliesNothing},
		{"Apply/Property", testProperty},
		{"Apply/Concurrent", testConcurrentApply},
		{"Identity/WeakHashIsItsOwnFile", testWeakHashIsItsOwnFile},
		{"Identity/MergeIntoSHA256", testMergeIntoSHA256},
		{"Identity/MergeArrivalOrder", testMergeArrivalOrder},
		{"Identity/MergeChain", testMergeChain},
		{"Identity/MergeInOneBatch", testMergeInOneBatch},
		{"Identity/ConflictingLinks", testConflictingLinks},
		{"Facts/Precedence", testFactPrecedence},
		{"Facts/Supersedes", testFactSupersedes},
		{"Facts/MergeFile", testFactsMergeFile},
		{"Pagination/DownloadedFiles", testPaginationFiles},
		{"Pagination/ITWIPs", testPaginationIPs},
		{"Pagination/Cursors", testPaginationCursors},
		{"Pagination/Limits", testPaginationLimits},
		{"Pagination/ConcurrentIngest", testConcurrentIngest},
		{"Read/UnknownIP", testUnknownIP},
		{"Read/UnknownHash", testUnknownHash},
		{"Read/FileByAnyHash", testFileByAnyHash},
		{"Keys/CreateAndFind", testKeysCreateAndFind},
		{"Keys/Duplicates", testKeysDuplicates},
		{"Keys/List", testKeysList},
		{"Keys/Revoke", testKeysRevoke},
		{"Admit/Limit", testAdmitLimit},
		{"Admit/Concurrent", testAdmitConcurrent},
		{"Admit/Windows", testAdmitWindows},
		{"Admit/PerKey", testAdmitPerKey},
		{"Admit/Unlimited", testAdmitUnlimited},
		{"Ping", testPing},
		{"ChangeCount", testChangeCount},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

func testPing(t *testing.T, open Opener) {
	s := open(t)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// testChangeCount: a store that counts its changes (filetrail.ChangeCounter)
// gives a new count after each kind of write. (That the count stays put
// without writes is each store's own test: some count writes this suite
// does not make, such as another database's on the same server.)
func testChangeCount(t *testing.T, open Opener) {
	s := open(t)
	cc, ok := s.(filetrail.ChangeCounter)
	if !ok {
		t.Skip("the store does not count its changes")
	}
	ctx := t.Context()
	count := func() uint64 {
		t.Helper()
		n, err := cc.ChangeCount(ctx)
		if err != nil {
			t.Fatalf("ChangeCount: %v", err)
		}
		return n
	}
	before := count()
	apply(t, s, sightings(sighting("192.0.2.1", hashesOf("a"), "http://192.0.2.1/a", "zeek", 1000)))
	afterApply := count()
	if afterApply == before {
		t.Errorf("the change count stayed at %d across Apply", before)
	}
	if err := s.CreateKey(ctx, filetrail.Key{ID: "k1", Name: "k1", SecretHash: "h1", CreatedAt: 1}); err != nil {
		t.Fatal(err)
	}
	if n := count(); n == afterApply {
		t.Errorf("the change count stayed at %d across CreateKey", n)
	}
}
