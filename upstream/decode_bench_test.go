package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

// The client's side of a call (request, response, bounded decoding) for the answers the gateway
// decodes most: restore-session pages (50-row pages and the dashboard's pages of up to 10,000),
// event pages and organisation listings, served by httptest from testdata or from pages built
// out of testdata's items.

// BenchmarkClientRestoreSessionsPage: one call for a page of 51 restore sessions (what the
// gateway asks for a 50-row page), served from testdata as the simulator wrote it.
func BenchmarkClientRestoreSessionsPage(b *testing.B) {
	page := readTestdata(b, "restore_sessions_page51.json")
	benchRestoreSessions(b, page, 51)
}

// BenchmarkClientRestoreSessionsPageLarge: one call for a page of 10,000 restore sessions (the
// dashboard's page size), the 51 sessions of testdata repeated under distinct ids.
func BenchmarkClientRestoreSessionsPageLarge(b *testing.B) {
	page := repeatPage(b, readTestdata(b, "restore_sessions_page51.json"), MaxPageSize)
	benchRestoreSessions(b, page, MaxPageSize)
}

func benchRestoreSessions(b *testing.B, page []byte, n int) {
	c := benchClient(b, "GET /v6/RestoreSessions", page)
	ctx := context.Background()
	opts := RestoreSessionListOptions{ListOptions: ListOptions{Limit: n}}
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		p, _, err := c.RestoreSessions(ctx, opts)
		if err != nil || len(p.Results) != n {
			b.Fatalf("%d sessions, %v", len(p.Results), err)
		}
	}
}

// BenchmarkClientRestoreSessionEventsPage: one call for a page of 1,000 events (the iterators'
// page size), the events of testdata repeated under distinct ids.
func BenchmarkClientRestoreSessionEventsPage(b *testing.B) {
	const n = IterPageSize
	page := repeatPage(b, readTestdata(b, "events_page.json"), n)
	sid := "6a4d3c2b-1e0f-4a9b-8c7d-e6f5a4b3c2d1"
	c := benchClient(b, "GET /v6/RestoreSessions/"+sid+"/Events", page)
	ctx := context.Background()
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		p, _, err := c.RestoreSessionEvents(ctx, sid, ListOptions{Limit: n})
		if err != nil || len(p.Results) != n {
			b.Fatalf("%d events, %v", len(p.Results), err)
		}
	}
}

// BenchmarkClientOrganizations: a v6 organisation listing of 1,000 organisations (a plain
// array), the organisations of testdata repeated under distinct ids.
func BenchmarkClientOrganizations(b *testing.B) {
	const n = 1000
	var items []json.RawMessage
	if err := json.Unmarshal(readTestdata(b, "organizations_v6.json"), &items); err != nil {
		b.Fatal(err)
	}
	list, err := json.Marshal(repeatItems(b, items, n))
	if err != nil {
		b.Fatal(err)
	}
	c := benchClient(b, "GET /v6/Organizations", list)
	ctx := context.Background()
	b.SetBytes(int64(len(list)))
	b.ReportAllocs()
	for b.Loop() {
		orgs, err := c.Organizations(ctx)
		if err != nil || len(orgs) != n {
			b.Fatalf("%d organisations, %v", len(orgs), err)
		}
	}
}

// BenchmarkDecodeRestoreSessionsPageLarge: the decoding alone (from memory, no HTTP) of the
// 10,000-session page of BenchmarkClientRestoreSessionsPageLarge.
func BenchmarkDecodeRestoreSessionsPageLarge(b *testing.B) {
	benchDecodePage[RestoreSession](b, repeatPage(b, readTestdata(b, "restore_sessions_page51.json"), MaxPageSize), MaxPageSize)
}

// BenchmarkDecodeRestoreSessionEventsPage: the decoding alone of the 1,000-event page of
// BenchmarkClientRestoreSessionEventsPage.
func BenchmarkDecodeRestoreSessionEventsPage(b *testing.B) {
	benchDecodePage[RestoreSessionEvent](b, repeatPage(b, readTestdata(b, "events_page.json"), IterPageSize), IterPageSize)
}

func benchDecodePage[T any](b *testing.B, page []byte, n int) {
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		var p Page[T]
		if err := pageOf(&p, n).decodeStream(newDecoder(bytes.NewReader(page))); err != nil || len(p.Results) != n {
			b.Fatalf("%d items, %v", len(p.Results), err)
		}
	}
}

func readTestdata(b *testing.B, name string) []byte {
	b.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// repeatPage returns page with its results repeated (under distinct ids) to n results.
func repeatPage(b *testing.B, page []byte, n int) []byte {
	b.Helper()
	var p map[string]json.RawMessage
	if err := json.Unmarshal(page, &p); err != nil {
		b.Fatal(err)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(p["results"], &items); err != nil {
		b.Fatal(err)
	}
	results, err := json.Marshal(repeatItems(b, items, n))
	if err != nil {
		b.Fatal(err)
	}
	p["results"] = results
	p["limit"] = json.RawMessage(fmt.Sprint(n))
	out, err := json.Marshal(p)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// repeatItems repeats items to n, giving copy i an id of its own: the first 8 characters of
// the original id (a GUID) become i in hex, wherever the id occurs in the item (its hrefs too).
func repeatItems(b *testing.B, items []json.RawMessage, n int) []json.RawMessage {
	b.Helper()
	out := make([]json.RawMessage, n)
	for i := range out {
		item := items[i%len(items)]
		var head struct{ ID string }
		if err := json.Unmarshal(item, &head); err != nil || len(head.ID) < 8 {
			b.Fatalf("item %s: id %q, %v", item, head.ID, err)
		}
		id := fmt.Sprintf("%08x", i) + head.ID[8:]
		out[i] = bytes.ReplaceAll(item, []byte(head.ID), []byte(id))
	}
	return out
}

// benchClient is a client of a test server answering route with body (and a token).
func benchClient(b *testing.B, route string, body []byte) *Client {
	b.Helper()
	mux := tokenMux()
	mux.HandleFunc(route, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	c, err := NewClient(srv.URL, ClientOptions{Name: "bench", Username: "u", Password: "p"})
	if err != nil {
		b.Fatal(err)
	}
	return c
}
