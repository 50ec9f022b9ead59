// Package graph is the GraphQL schema (*.graphqls; docs/schema-core.graphqls names the public
// contract) and the executor gqlgen generates from it (generated.go: never edited by hand;
// regenerate with `go run github.com/99designs/gqlgen generate`), plus the schema's page sizes.
package graph
