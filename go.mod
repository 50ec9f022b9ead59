module github.com/vbo-gateway/vbo-gateway

go 1.26.8
