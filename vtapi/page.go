package vtapi

import (
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/filetrail/filetrail"
)

// DefaultPageLimit is the page size when a request gives no limit (API.md §4.6).
const DefaultPageLimit = 10

// EmbeddedPageLimit is the page size of a relationship embedded in an
// object with ?relationships= (API.md §4.10).
const EmbeddedPageLimit = 20

// lastValue returns the last value of a query parameter, "" when absent: a
// repeated parameter is decided by its last occurrence.
func lastValue(q url.Values, name string) string {
	vs := q[name]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// parsePage reads the limit and cursor parameters of a list request. An
// absent or empty limit is DefaultPageLimit; above MaxPageLimit is
// BadRequest; zero, negative or not a number is InvalidArgument. An absent
// or empty cursor asks for the first page; a cursor that is malformed or of
// another kind of list is InvalidArgument.
func parsePage(q url.Values, kind filetrail.CursorKind) (filetrail.PageRequest, error) {
	req := filetrail.PageRequest{Limit: DefaultPageLimit}
	if s := lastValue(q, "limit"); s != "" {
		n, err := parseLimit(s)
		if err != nil {
			return req, err
		}
		req.Limit = n
	}
	if s := lastValue(q, "cursor"); s != "" {
		c, err := filetrail.DecodeCursor(kind, s)
		if err != nil {
			return req, err
		}
		req.After = &c
	}
	return req, nil
}

func parseLimit(s string) (int, error) {
	n, err := strconv.Atoi(s)
	var numErr *strconv.NumError
	switch {
	case err == nil && n > filetrail.MaxPageLimit,
		errors.As(err, &numErr) && numErr.Err == strconv.ErrRange && !strings.HasPrefix(s, "-"):
		return 0, filetrail.Errorf(filetrail.CodeBadRequest, msgLimitTooLarge)
	case err != nil || n < 1:
		return 0, filetrail.Errorf(filetrail.CodeInvalidArgument, "Invalid limit %q: it must be a whole number from 1 to %d", truncate(s, 40), filetrail.MaxPageLimit)
	}
	return n, nil
}

// parseBool reads a boolean query parameter: absent or empty is false.
func parseBool(q url.Values, name string) (bool, error) {
	s := lastValue(q, name)
	if s == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, filetrail.Errorf(filetrail.CodeInvalidArgument, "Invalid %s %q: expected true or false", name, truncate(s, 40))
	}
	return v, nil
}

// pageURL is the absolute URL of one page of a list: list is the list's
// absolute URL without query; cursor is "" for the first page. The query is
// cursor=..&limit=.. (API.md §4.4), then descriptors_only=true when the list
// is asked for descriptors on its full endpoint.
func pageURL(list, cursor string, limit int, descriptorsOnly bool) string {
	var b strings.Builder
	b.Grow(len(list) + len(cursor) + 48)
	b.WriteString(list)
	b.WriteByte('?')
	if cursor != "" {
		b.WriteString("cursor=")
		b.WriteString(url.QueryEscape(cursor))
		b.WriteByte('&')
	}
	b.WriteString("limit=")
	b.WriteString(strconv.Itoa(limit))
	if descriptorsOnly {
		b.WriteString("&descriptors_only=true")
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
