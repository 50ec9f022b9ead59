package config

// Auth configures authentication.
type Auth struct{}

// Tenant is a customer and the organisations it may read.
type Tenant struct{}
