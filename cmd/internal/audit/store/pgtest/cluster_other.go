//go:build !linux

package pgtest

import (
	"errors"
	"os"
)

func start() (*server, error) {
	if dsn := os.Getenv("VBO_TEST_POSTGRES_DSN"); dsn != "" {
		return &server{adminDSN: dsn}, nil
	}
	return nil, errors.New("a throwaway cluster is started on Linux only; set VBO_TEST_POSTGRES_DSN")
}
