package dataset

import (
	"encoding/json"
	"os"
)

// Manifest describes a seeded store; the seed tool writes it next to the
// store as ManifestPath(store) and the report tool reads it back.
type Manifest struct {
	Fingerprint string `json:"fingerprint"`
	Params      Params `json:"params"`
	// StoreSchema is the store's schema version when it was seeded (a
	// newer server migrates it on open).
	StoreSchema int      `json:"store_schema"`
	Complete    bool     `json:"complete"`
	BigIPs      []string `json:"big_ips"`
	Files       int      `json:"files"`
	BigEdges    int      `json:"big_edges_total"`
	SmallEdges  int      `json:"small_edges_total"`
	DocBytesMin int      `json:"doc_bytes_min"`
	DocBytesMax int      `json:"doc_bytes_max"`
	DocBytesAvg int      `json:"doc_bytes_avg"`
	Seconds     float64  `json:"seconds"`
	StoreBytes  int64    `json:"store_bytes"`
	GoVersion   string   `json:"go_version"`
}

// ManifestPath is where the manifest of the store at path lives.
func ManifestPath(path string) string { return path + ".manifest.json" }

// ReadManifest reads the manifest of the store at path.
func ReadManifest(path string) (Manifest, error) {
	var m Manifest
	raw, err := os.ReadFile(ManifestPath(path))
	if err != nil {
		return m, err
	}
	return m, json.Unmarshal(raw, &m)
}
