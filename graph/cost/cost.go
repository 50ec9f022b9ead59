// Package cost estimates what a GraphQL operation will cost before it runs, in the two units
// that matter to the gateway:
//
//   - upstream calls: requests to VBO servers (the scarce resource every tenant shares);
//   - response objects: objects the response can hold (gateway memory and bandwidth).
//
// Response objects follow the IBM GraphQL Cost Directive specification, as Apollo Router's
// demand control reads it: object types weigh 1, scalars and enums 0 (or what `@cost` says),
// lists and connections multiply by the size `@listSize` gives them (the `first` argument of a
// connection sizes its `edges`). Unbounded lists (`Viewer.organizations`, `Query.servers`) are
// sized by what the caller can actually see (Visible), not by an assumption.
//
// Upstream calls follow the gateway's loaders (model.go): organisation lists once per server
// and request, one listing walk per server for all the organisations it serves, one events
// call per session (more when totalCount must count beyond one page); none for a listing the
// restore watch's archive answers (Visible.Archive), nor for its sessions' events.
//
// The estimate is a pure function of the schema, the operation, its variables and the caller's
// visible counts. Fragments are memoised (per fragment, type and multiplier), so a document
// whose fragments spread each other 2^n times costs O(n) to estimate.
package cost

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Visible is what the caller can see, for sizing the lists the schema cannot bound.
type Visible struct {
	// Servers the caller can see (all of them for provider admins; those hosting the tenant's
	// organisations for tenants).
	Servers int
	// Organizations the caller can see, across those servers.
	Organizations int
	// Tenant callers need the organisation lists for scope checks on sessions and events.
	Tenant bool
	// Archive answers session listings from the restore watch's archive (nil: VBO answers
	// every one): a listing it answers, and its sessions' events, cost no upstream call; what
	// bounds them is the response objects (the rows they return).
	Archive Archive
}

// Archive is what the estimate knows of the restore watch's archive before execution.
type Archive interface {
	// Covers reports whether the archive answers a listing of sessions started in [from, to)
	// (nil: open) on every server the caller sees.
	Covers(from, to *time.Time) bool
	// Continues reports whether after is the cursor of a listing the archive answered (the
	// next pages are the archive's too).
	Continues(after string) bool
}

// Paging is how the loaders read VBO, which sets how many calls a field makes.
type Paging struct {
	// ListingPageSize is the sessions asked for per call when walking a server's restore
	// session listing.
	ListingPageSize int
	// FirstListingPageSize is the sessions asked for by a walk's first call when it is smaller
	// than ListingPageSize (0: ListingPageSize); the walk goes on in pages of ListingPageSize.
	FirstListingPageSize int
	// ScanBudget is the sessions one listing walk may read per server and request (<= 0: no
	// bound; the estimate then assumes UnboundedScan).
	ScanBudget int
	// EventsPageSize is the most events asked for per events call.
	EventsPageSize int
	// EventsCounted is how many of a session's events are read to answer
	// RestoreEventConnection.totalCount (null beyond).
	EventsCounted int
}

// UnboundedScan is the listing size assumed when Paging.ScanBudget is unbounded.
const UnboundedScan = 1_000_000

func (p Paging) validate() error {
	if p.ListingPageSize < 1 || p.EventsPageSize < 1 || p.EventsCounted < 1 {
		return fmt.Errorf("cost: paging sizes must be positive (listing %d, events %d, counted %d)",
			p.ListingPageSize, p.EventsPageSize, p.EventsCounted)
	}
	return nil
}

// Dimension is one of the two units.
type Dimension int

// The units.
const (
	UpstreamCalls Dimension = iota
	ResponseObjects
	dimensions
)

func (d Dimension) String() string {
	if d == UpstreamCalls {
		return "upstream calls"
	}
	return "response objects"
}

// Estimate is an operation's estimated cost.
type Estimate struct {
	UpstreamCalls   int64
	ResponseObjects int64
	// Top is, per dimension, the field that contributes most (zero Field when nothing does).
	Top [dimensions]Contributor
	// SizedByOrganizations says a list was sized by Visible.Organizations (the estimate
	// changes with it).
	SizedByOrganizations bool
}

// Value returns the estimate in one dimension.
func (e Estimate) Value(d Dimension) int64 {
	if d == UpstreamCalls {
		return e.UpstreamCalls
	}
	return e.ResponseObjects
}

// Contributor is the field whose occurrences contribute most to one dimension.
type Contributor struct {
	// Field is a schema coordinate such as RestoreSession.events, or OrgLists.
	Field string
	// Path is the response path of its heaviest occurrence, e.g.
	// organizations.edges.node.restoreSessions.edges.node.events.
	Path string
	// Amount is what all its occurrences contribute.
	Amount int64
	// Knobs are the list sizes that multiply it, innermost first.
	Knobs []Knob
}

// OrgLists is the Contributor.Field of the organisation lists (one call per visible server).
const OrgLists = "organisation lists"

// Knob is a list size the caller controls (or, without Argument, a list sized by what the caller
// can see).
type Knob struct {
	Field    string // schema coordinate of the list or connection field
	Argument string // "first", or "" for a list the schema does not page
	Size     int64
}

// Advice says what to lower, e.g. "lower `first` on Organization.restoreSessions (50) or
// Query.organizations (36)".
func (c Contributor) Advice() string {
	var paged, whole []string
	for _, k := range c.Knobs {
		if k.Size <= 1 {
			continue
		}
		if k.Argument != "" {
			paged = append(paged, fmt.Sprintf("%s (%d)", k.Field, k.Size))
		} else {
			whole = append(whole, fmt.Sprintf("%s (%d)", k.Field, k.Size))
		}
	}
	var parts []string
	if len(paged) > 0 {
		parts = append(parts, "lower `first` on "+orList(paged))
	}
	if len(whole) > 0 {
		parts = append(parts, "select fewer items than the whole list "+orList(whole))
	}
	if len(parts) == 0 {
		return "select it fewer times"
	}
	return strings.Join(parts, ", or ")
}

func orList(s []string) string {
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// saturate converts an estimate to int64, saturating far below overflow.
func saturate(f float64) int64 {
	const ceiling = 1e15
	switch {
	case math.IsNaN(f) || f < 0:
		return 0
	case f > ceiling:
		return int64(ceiling)
	}
	return int64(math.Ceil(f))
}
