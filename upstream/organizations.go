package upstream

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
)

// ListOptions are VBO's paging parameters. Zero values are left to the server (limit 30, offset 0).
type ListOptions struct {
	Limit  int
	Offset int
}

func (o ListOptions) values() url.Values {
	q := url.Values{}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Offset > 0 {
		q.Set("offset", strconv.Itoa(o.Offset))
	}
	return q
}

// Organizations lists every organisation on the server. v6/v7 answer a plain array; v8 pages,
// and this walks all its pages, asking for the largest page VBO serves (one call up to 10,000
// organisations). A listing of more than MaxOrganizations fails with ErrTooManyItems.
func (c *Client) Organizations(ctx context.Context) ([]Organization, error) {
	if c.apiVersion != APIv8 {
		var orgs []Organization
		_, err := c.get(ctx, "Organizations", nil, boundedList[Organization]{list: &orgs, what: "the organisation listing", max: MaxOrganizations})
		if err != nil {
			return nil, err
		}
		c.orgCount.Store(int64(len(orgs)) + 1)
		return orgs, nil
	}
	var all []Organization
	for org, err := range walk(ctx, ListOptions{Limit: MaxPageSize}, c.organizationsPage) {
		if err != nil {
			return nil, err
		}
		if len(all) >= MaxOrganizations {
			return nil, &Error{Server: c.name, Method: http.MethodGet, Path: c.apiPath("Organizations"), StatusCode: http.StatusOK,
				Message: "decode response body", Err: tooManyItems("the organisation listing", MaxOrganizations)}
		}
		all = append(all, org)
	}
	c.orgCount.Store(int64(len(all)) + 1)
	return all, nil
}

// KnownOrganizations is how many organisations the server had at the last successful
// Organizations call; ok is false before the first.
func (c *Client) KnownOrganizations() (n int, ok bool) {
	v := c.orgCount.Load()
	return int(v - 1), v > 0
}

func (c *Client) organizationsPage(ctx context.Context, opts ListOptions) (*Page[Organization], *Response, error) {
	var page Page[Organization]
	resp, err := c.get(ctx, "Organizations", opts.values(), pageOf(&page, opts.Limit))
	if err != nil {
		return nil, resp, err
	}
	return &page, resp, nil
}

// Organization gets one organisation by its id.
func (c *Client) Organization(ctx context.Context, id string) (*Organization, *Response, error) {
	var org Organization
	resp, err := c.get(ctx, "Organizations/"+escape(id), nil, &org)
	if err != nil {
		return nil, resp, err
	}
	return &org, resp, nil
}

// walk iterates over every item of a paged listing, starting at opts.Offset with page size
// opts.Limit (IterPageSize when zero), until a page comes back shorter than asked.
func walk[T any](ctx context.Context, opts ListOptions,
	page func(context.Context, ListOptions) (*Page[T], *Response, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		if opts.Limit <= 0 {
			opts.Limit = IterPageSize
		}
		for {
			p, _, err := page(ctx, opts)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, item := range p.Results {
				if !yield(item, nil) {
					return
				}
			}
			if p.Last(opts.Limit) {
				return
			}
			opts.Offset += len(p.Results)
		}
	}
}
