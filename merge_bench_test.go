package filetrail

import "testing"

// hintOnlyFile is the input of a file known from sightings alone, the
// common case of sensor ingestion.
func hintOnlyFile() (Hashes, FileHints) {
	return Hashes{
			SHA256: "000a8bea50796ff9d1dffd4bb2ad223cc0753bbd26a0d578514e1388f0d8da82",
			SHA1:   "d30982cacef8c414eff40d8064b141275954c791",
			MD5:    "f713a035cd298a55b4766b278e8db278",
		}, FileHints{Names: []string{"payload-0.sh", "payload-1.sh", "payload-2.sh"}, Size: 796069,
			FirstSeen: 1700002136, LastSeen: 1700273935}
}

// BenchmarkMergeFileHintsOnly builds the document of a file known from
// sightings alone.
func BenchmarkMergeFileHintsOnly(b *testing.B) {
	h, hints := hintOnlyFile()
	for b.Loop() {
		MergeFile(h, nil, hints)
	}
}

// BenchmarkCompressAttributesSmall compresses such a document.
func BenchmarkCompressAttributesSmall(b *testing.B) {
	h, hints := hintOnlyFile()
	doc := MergeFile(h, nil, hints)
	for b.Loop() {
		CompressAttributes(doc)
	}
}
