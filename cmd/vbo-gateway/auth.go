package main

import (
	"errors"
	"net/http"

	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// denyAll refuses every caller: a config-file gateway must not serve unauthenticated callers.
func denyAll(*http.Request) (*auth.Principal, error) {
	return nil, errors.New("no authentication configured")
}
