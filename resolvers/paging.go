package resolvers

import (
	"strconv"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
)

// pageSize validates a connection's first argument (the schema's page sizes, model.DefaultFirst
// and model.MaxFirst).
func pageSize(first *int) (int, error) {
	if first == nil {
		return model.DefaultFirst, nil
	}
	if *first < 0 || *first > model.MaxFirst {
		return 0, badInputf("first must be between 0 and " + strconv.Itoa(model.MaxFirst) + ", got " + strconv.Itoa(*first))
	}
	return *first, nil
}

// checkOffsetArgs validates first and an offset cursor before any data is loaded.
func checkOffsetArgs(cursors *gid.Cursors, first *int, after *string) error {
	if _, err := pageSize(first); err != nil {
		return err
	}
	if after != nil {
		if _, err := cursors.DecodeOffset(*after); err != nil {
			return err
		}
	}
	return nil
}

// offsetWindow slices a complete list for first/after (offset cursor) and says what follows.
func offsetWindow(cursors *gid.Cursors, n int, first *int, after *string) (from, to int, err error) {
	size, err := pageSize(first)
	if err != nil {
		return 0, 0, err
	}
	from = 0
	if after != nil {
		from, err = cursors.DecodeOffset(*after)
		if err != nil {
			return 0, 0, err
		}
	}
	from = min(from, n)
	return from, min(from+size, n), nil
}

// offsetPageInfo builds PageInfo for items [from,to) of n shown as edges (item i's cursor is
// offset i+1). The start and end cursors are the first and last edges' own, read through them:
// an edge seals its cursor once, on first use, and sealing again would give another string.
func offsetPageInfo[E interface{ Cursor() string }](from, to, n int, edges []E) *model.PageInfo {
	pi := &model.PageInfo{HasNextPage: to < n, HasPreviousPage: from > 0}
	if len(edges) > 0 {
		start, end := edges[0].Cursor(), edges[len(edges)-1].Cursor()
		pi.StartCursor, pi.EndCursor = &start, &end
	}
	return pi
}

// decodeStream reads an optional stream cursor.
func decodeStream(cursors *gid.Cursors, after *string) (gid.StreamCursor, error) {
	if after == nil {
		return gid.StreamCursor{}, nil
	}
	return cursors.DecodeStream(*after)
}
