package filetrail

import (
	"encoding/json"

	"github.com/filetrail/filetrail/internal/stitch"
)

// CompressAttributes returns the compressed copy of a file's attributes
// document that stores keep next to it (FileEdge.CompressedAttributes):
// compressed once when the document is written, it lets every gzip
// response carry the document without compressing it again.
func CompressAttributes(attrs json.RawMessage) []byte {
	return stitch.Compress(nil, attrs)
}
