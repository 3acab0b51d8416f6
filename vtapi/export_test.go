package vtapi

import (
	"context"

	"github.com/filetrail/filetrail"
)

// ErrorFor exposes the error mapping to the tests.
func ErrorFor(ctx context.Context, err error) (int, filetrail.Code, string) {
	e := toAPIError(ctx, err)
	return e.Status, e.Code, e.Message
}
