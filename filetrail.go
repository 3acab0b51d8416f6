// Package filetrail holds the domain of filetrail: the facts that sources
// contribute (sightings of files served by IP addresses, attributes of
// files), the pure functions that merge them, and the interfaces that the
// store, the API and the ingestion readers meet at.
//
// Dependencies point inward: store implementations, the HTTP API and the
// readers import this package; it imports none of them.
package filetrail

import (
	"encoding/json"
	"net/netip"
)

// Sighting is one observation that a file was available for download from a
// URL served by an IP address at some moment.
//
// IP is the server that sent the file. It may be the zero Addr when the
// source did not know the server address (a URL with a host name and no
// resolved IP): the sighting is still evidence about the file (its names and
// in-the-wild dates) but it creates no edge.
type Sighting struct {
	IP       netip.Addr
	URL      string
	SHA256   string // lower-case hex, or empty
	SHA1     string // lower-case hex, or empty
	MD5      string // lower-case hex, or empty
	Size     int64  // bytes; 0 when unknown
	FileName string
	MIME     string
	SeenAt   int64  // Unix seconds
	Source   string // name of the feed or sensor
}

// Hashes returns the sighting's file hashes.
func (s Sighting) Hashes() Hashes { return Hashes{SHA256: s.SHA256, SHA1: s.SHA1, MD5: s.MD5} }

// Origin ranks where a FileFact comes from. When two facts disagree on an
// attribute, the higher origin wins (DESIGN.md: our analysis of the bytes >
// imported report > sensor hint).
type Origin int

// Origins, lowest precedence first. The numeric values are stored.
const (
	OriginHint     Origin = 1
	OriginReport   Origin = 2
	OriginAnalysis Origin = 3
)

// FileFact is a set of VirusTotal File attributes about one file, from one
// source (an imported VT report, filetrail's own analysis, a sensor hint).
type FileFact struct {
	Hashes
	Origin Origin
	Source string
	// Attributes is a JSON object of VT File attributes ("names", "size",
	// "last_analysis_results", ...). It must be a JSON object.
	Attributes json.RawMessage
}

// Batch is a unit of ingestion: the store applies it in one transaction, all
// or nothing.
type Batch struct {
	Sightings []Sighting
	Files     []FileFact
}

// Len is the number of records in the batch.
func (b *Batch) Len() int { return len(b.Sightings) + len(b.Files) }

// ApplyResult tells what a batch changed.
type ApplyResult struct {
	NewEdges int // (IP, file) pairs that did not exist before
	NewFiles int // files that did not exist before
}
