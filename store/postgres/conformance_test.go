package postgres_test

import (
	"testing"

	"github.com/filetrail/filetrail"
	"github.com/filetrail/filetrail/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) filetrail.Store { return open(t) })
}
