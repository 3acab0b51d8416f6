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
