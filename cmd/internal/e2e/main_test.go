package e2e_test

import (
	"os"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store/pgtest"
)

// TestMain stops the throwaway PostgreSQL cluster of the tests that use one (pgtest) when the
// tests end.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
