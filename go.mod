module github.com/vbo-gateway/vbo-gateway

go 1.26.8

require (
	github.com/getkin/kin-openapi v0.153.0 // indirect
	golang.org/x/sync v0.25.0 // indirect
)
