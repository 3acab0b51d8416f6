package postgres

import "github.com/filetrail/filetrail"

// newResolver returns the identity resolver of a batch (see
// filetrail.IdentityResolver). It works in memory on what was read before:
// mapped, the stored file id of each of the batch's hashes, and stored,
// those files' rows; hashes (the number of the batch's distinct hashes) is
// the size hint of NewIdentityResolver.
func newResolver(hashes int, mapped map[string]string, stored map[string]*storedFile) *filetrail.IdentityResolver {
	return filetrail.NewIdentityResolver(hashes,
		func(hash string) (string, error) { return mapped[hash], nil },
		func(id string) (filetrail.Hashes, bool, error) {
			if s := stored[id]; s != nil {
				return s.hashes, true, nil
			}
			return filetrail.Hashes{}, false, nil
		})
}
