package ingest

import (
	"bytes"
	"encoding/json"

	"github.com/valyala/fastjson"
)

// sightingDecoder decodes the lines of the native sighting format exactly
// as json.Unmarshal into a sightingLine would, several times faster on the
// lines sensors write. encoding/json spends about 6 µs on a typical
// 300-byte line (reflection, a validity scan, then decoding), which made
// reading the first batch of a large input the first second of every
// ingestion. Lines of printable ASCII without \u escapes are validated and
// parsed by fastjson (about 2.5 µs, allocating little beyond the field
// strings); fastjson is lenient where encoding/json is not, so the fast path
// takes a line only when fastjson's strict validator accepts it, and hands
// anything else it is unsure of (another value type in a field, a number
// that is not an int64, non-ASCII text whose decoding rules differ) to
// json.Unmarshal. Every outcome, errors included, is encoding/json's; the
// tests hold the two paths to that on the same lines, and fuzz it.
//
// A sightingDecoder is not safe for concurrent use.
type sightingDecoder struct {
	parser fastjson.Parser
}

// decode decodes one line that starts with '{' after blanks.
func (d *sightingDecoder) decode(line []byte) (sightingLine, error) {
	if in, ok := d.decodeFast(line); ok {
		return in, nil
	}
	var in sightingLine
	err := json.Unmarshal(line, &in)
	return in, err
}

// decodeFast decodes line when it can do so exactly as json.Unmarshal
// would; ok is false when it declines, and the line must then go to
// json.Unmarshal (which also gives the errors).
func (d *sightingDecoder) decodeFast(line []byte) (in sightingLine, ok bool) {
	line = bytes.TrimRight(line, " \t\r\n")
	if !plainJSONText(line) || fastjson.ValidateBytes(line) != nil {
		return in, false
	}
	v, err := d.parser.ParseBytes(line)
	if err != nil {
		return in, false
	}
	obj, err := v.Object()
	if err != nil {
		return in, false
	}
	ok = true
	obj.Visit(func(key []byte, v *fastjson.Value) {
		if ok {
			ok = in.set(key, v)
		}
	})
	return in, ok
}

// plainJSONText reports whether b is printable ASCII without \u escapes:
// text that fastjson and encoding/json decode to the same strings
// (encoding/json replaces invalid UTF-8 and lone surrogates, fastjson keeps
// them).
func plainJSONText(b []byte) bool {
	for _, c := range b {
		if c-0x20 > 0x7e-0x20 { // c < 0x20 || c > 0x7e, in one comparison
			return false
		}
	}
	for rest := b; ; {
		i := bytes.IndexByte(rest, '\\')
		if i < 0 || i+1 == len(rest) {
			return true
		}
		if rest[i+1] == 'u' {
			return false
		}
		rest = rest[i+2:]
	}
}

// sightingMember is a member of a sighting line that sightingLine keeps.
type sightingMember int

const (
	memberIP sightingMember = iota
	memberURL
	memberSHA256
	memberSHA1
	memberMD5
	memberSize
	memberFileName
	memberMIME
	memberSeenAt
	memberSource
	memberOther // a member the line's decoding ignores
)

// sightingMemberNames are the JSON names of the members, by sightingMember.
var sightingMemberNames = [...]string{"ip", "url", "sha256", "sha1", "md5", "size", "filename", "mime", "seen_at", "source"}

// sightingMemberOf is the member named key, matched without regard to case
// as encoding/json does.
func sightingMemberOf(key []byte) sightingMember {
	for m, name := range sightingMemberNames {
		if string(key) == name {
			return sightingMember(m)
		}
	}
	for m, name := range sightingMemberNames {
		if bytes.EqualFold(key, []byte(name)) {
			return sightingMember(m)
		}
	}
	return memberOther
}

// set stores one member of the line's object as json.Unmarshal would, a
// null leaving a string or number field as it is. It returns false for a
// value json.Unmarshal would refuse or that the fast path does not render
// exactly: the line then goes to json.Unmarshal.
func (in *sightingLine) set(key []byte, v *fastjson.Value) bool {
	t := v.Type()
	switch m := sightingMemberOf(key); m {
	case memberOther:
		return true
	case memberIP:
		switch t {
		case fastjson.TypeNull:
			in.IP = nil
			return true
		case fastjson.TypeString:
			ip := string(v.GetStringBytes())
			in.IP = &ip
			return true
		}
		return false
	case memberSize:
		if t == fastjson.TypeNumber {
			// The validator admitted only JSON numbers, on which
			// fastjson's Int64 is strconv.ParseInt's.
			n, err := v.Int64()
			in.Size = n
			return err == nil
		}
		return t == fastjson.TypeNull
	case memberSeenAt:
		// json.RawMessage keeps the value's text; parseSeenAt reads a
		// number's text, a string's decoded value (encoded again here),
		// or null. Other values are left to json.Unmarshal, whose text
		// the error message quotes.
		if t == fastjson.TypeNull || t == fastjson.TypeNumber || t == fastjson.TypeString {
			in.SeenAt = v.MarshalTo(nil)
			return true
		}
		return false
	default:
		fields := [...]*string{memberURL: &in.URL, memberSHA256: &in.SHA256, memberSHA1: &in.SHA1, memberMD5: &in.MD5,
			memberFileName: &in.FileName, memberMIME: &in.MIME, memberSource: &in.Source}
		if t == fastjson.TypeString {
			*fields[m] = string(v.GetStringBytes())
			return true
		}
		return t == fastjson.TypeNull
	}
}
