package model

// Page sizes of every connection in the schema (here, not in package graph, so the configuration
// can name them without importing the generated executor): the `first` argument defaults to DefaultFirst
// and may not exceed MaxFirst. schema.graphqls states both (a test holds it to these values);
// the resolvers, the query limits and the configuration's maxFirst ceiling use these constants.
const (
	DefaultFirst = 50
	MaxFirst     = 500
)
