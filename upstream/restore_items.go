package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
	"golang.org/x/sync/errgroup"
)

// The item objects of an action's body. VBO's OpenAPI documents (v6 and v8) require more than
// an id of some items an action names:
//
//	body list            schema                  required
//	documents (OneDrive) RESTOneDriveDocument    id name createdBy creationTime modifiedBy modificationTime sizeBytes
//	documents (Sites)    RESTSharePointDocument  id name createdBy creationTime modifiedBy modificationTime
//	items (Sites)        RESTSharePointItem      id name createdBy creationTime modifiedBy modificationTime
//	files (Teams)        RESTTeamsFile           id (v6); id channelId (v8)
//	items (Exchange)     RESTExchangeItemStringId  none (the id is all it has)
//	posts (Teams)        RESTTeamsPost           none (postId names the post)
//
// The gateway sends those items as VBO itself describes them: just before the action it reads
// each item back from the restore session (GET …/Documents/{id}, …/Items/{id}, …/files/{id};
// v8 …/channels/{channelId}/files/{id}) and puts VBO's answer in the body, less its hypermedia
// links (_links, read-only). It never fills a field in itself. The reads are GETs (retried like
// every GET, at most itemReadConcurrency at a time): an action on n such items costs n calls
// more, and a read that fails fails the action before its POST is sent (OutcomeNotSent).
//
// Why read back rather than keep what was browsed: the restore session is a point in time, so
// VBO answers what the browse showed; the gateway keeps no copy of the items (no store, no
// bound to enforce, nothing of another session to leak), the sealed item ids stay small, and an
// item found by a search (whose answer is a RESTItemComposed, not the collection's schema) is
// sent in the collection's own shape.

// itemReadConcurrency bounds the item reads of one action in flight.
const itemReadConcurrency = 4

// maxItemObject bounds one item object as VBO answers it (an item is a few hundred bytes).
const maxItemObject = 64 << 10

// itemReadPath is the path of one item of items' collection that VBO must be given as an
// object, or "" when its id is enough.
func (c *Client) itemReadPath(sessionID string, ref BrowseRef, id string) string {
	r, cont := restoreSessionPath(sessionID), escape(ref.ContainerID)
	switch ref.Kind {
	case BrowseDriveDocuments:
		return r + "/Organization/OneDrives/" + cont + "/Documents/" + escape(id)
	case BrowseSiteDocuments:
		return r + "/Organization/Sites/" + cont + "/Documents/" + escape(id)
	case BrowseSiteItems:
		return r + "/Organization/Sites/" + cont + "/Items/" + escape(id)
	case BrowseTeamFiles:
		if c.apiVersion == APIv8 {
			return r + "/organization/teams/" + cont + "/channels/" + escape(ref.ParentID) + "/files/" + escape(id)
		}
		return r + "/organization/teams/" + cont + "/files/" + escape(id)
	}
	return ""
}

// NeedsItemObjects reports whether an action on items of kind sends VBO the items as objects
// read back from the session (one GET per item before the action), rather than their ids.
func NeedsItemObjects(kind BrowseKind) bool {
	switch kind {
	case BrowseDriveDocuments, BrowseSiteDocuments, BrowseSiteItems, BrowseTeamFiles:
		return true
	}
	return false
}

// itemObject is one item as VBO answered it, read with a bound.
type itemObject struct{ v jsontext.Value }

// boundedBody is a decoding target that bounds the answer read for it below maxResponseBody
// (Client.do reads no more than maxBody bytes of the body).
type boundedBody interface{ maxBody() int64 }

// maxBody: the item's bound and room for the whitespace around it; an answer cut there fails
// to decode (the gateway does not buffer a larger one to find it too large).
func (*itemObject) maxBody() int64 { return 2 * maxItemObject }

func (o *itemObject) decodeStream(dec *jsontext.Decoder) error {
	if dec.PeekKind() != '{' {
		return fmt.Errorf("an item is not a JSON object")
	}
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	if len(v) > maxItemObject {
		return fmt.Errorf("an item of %d bytes: at most %d", len(v), maxItemObject)
	}
	o.v = v.Clone()
	return nil
}

// itemObjects reads items back from the session (itemReadPath) and returns their objects in
// items.IDs' order; nil when the collection takes ids.
func (c *Client) itemObjects(ctx context.Context, sessionID string, items ActionItems) ([]json.RawMessage, error) {
	if !NeedsItemObjects(items.Ref.Kind) {
		return nil, nil
	}
	out := make([]json.RawMessage, len(items.IDs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(itemReadConcurrency)
	for i, id := range items.IDs {
		g.Go(func() error {
			var o itemObject
			path := c.itemReadPath(sessionID, items.Ref, id)
			if _, err := c.get(gctx, path, nil, &o); err != nil {
				return fmt.Errorf("read item %q back from VBO: %w", id, err)
			}
			obj, err := withoutLinks(o.v, id, items.Ref)
			if err != nil {
				return &Error{Server: c.name, Method: "GET", Path: path, Message: "item answer", Err: err}
			}
			out[i] = obj
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// locationMembers are the members of an item object (v8) that name where the item lives: each,
// when VBO answers it, must name the container (or, for channelId, the parent) the item was
// read from (locationOf). VBO answering an item of another drive, site, team or channel would
// otherwise have the action act there.
var locationMembers = []string{"oneDriveId", "siteId", "teamId", "channelId"}

// locationOf is what member (one of locationMembers) must equal for an item read under ref.
func locationOf(member string, ref BrowseRef) string {
	if strings.EqualFold(member, "channelId") {
		return ref.ParentID
	}
	return ref.ContainerID
}

// withoutLinks returns the object v less its _links member, after checking that it is the item
// id (VBO answering another item would have the action act on it) and that its location
// members, when present, name ref's container and channel (locationMembers).
func withoutLinks(v jsontext.Value, id string, ref BrowseRef) (json.RawMessage, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(v), decodeOptions)
	var buf bytes.Buffer
	enc := jsontext.NewEncoder(&buf, jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true))
	if _, err := dec.ReadToken(); err != nil { // '{' (decodeStream checked it)
		return nil, err
	}
	if err := enc.WriteToken(jsontext.BeginObject); err != nil {
		return nil, err
	}
	sawID := false
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		name := tok.String() // before the next read voids tok
		val, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		if strings.EqualFold(name, "_links") {
			continue
		}
		if strings.EqualFold(name, "id") {
			var got string
			if err := json.Unmarshal(val, &got); err != nil || !strings.EqualFold(got, id) {
				return nil, fmt.Errorf("VBO answered item %s for item %q", val, id)
			}
			sawID = true
		}
		for _, m := range locationMembers {
			if !strings.EqualFold(name, m) || string(val) == "null" {
				continue
			}
			var got string
			if err := json.Unmarshal(val, &got); err != nil || !strings.EqualFold(got, locationOf(m, ref)) {
				return nil, fmt.Errorf("VBO answered item %q with %s %s, read from %q", id, name, val, locationOf(m, ref))
			}
		}
		if err := enc.WriteToken(jsontext.String(name)); err != nil {
			return nil, err
		}
		if err := enc.WriteValue(val); err != nil {
			return nil, err
		}
	}
	if err := enc.WriteToken(jsontext.EndObject); err != nil {
		return nil, err
	}
	if !sawID {
		return nil, fmt.Errorf("VBO answered an item without an id for item %q", id)
	}
	return json.RawMessage(bytes.TrimSpace(buf.Bytes())), nil
}
