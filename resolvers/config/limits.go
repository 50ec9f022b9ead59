package config

// Limits bounds queries and callers. Zero values take the defaults.
type Limits struct{}

// Resilience tunes deadlines, retries and circuit breaking. Zero values take the defaults.
type Resilience struct{}
