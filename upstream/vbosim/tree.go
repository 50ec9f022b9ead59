package vbosim

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// NodeKind is the kind of one node of an organisation's backed-up data tree (Tree).
type NodeKind string

// Node kinds, one per VBO browse resource.
const (
	KindMailbox     NodeKind = "Mailbox"
	KindMailFolder  NodeKind = "MailFolder"
	KindMailItem    NodeKind = "MailItem"
	KindOneDrive    NodeKind = "OneDrive"
	KindDriveFolder NodeKind = "DriveFolder"
	KindDriveDoc    NodeKind = "DriveDocument"
	KindSite        NodeKind = "Site"
	KindLibrary     NodeKind = "Library"
	KindList        NodeKind = "List"
	KindSiteFolder  NodeKind = "SiteFolder"
	KindSiteDoc     NodeKind = "SiteDocument"
	KindSiteItem    NodeKind = "SiteItem"
	KindTeam        NodeKind = "Team"
	KindChannel     NodeKind = "Channel"
	KindPost        NodeKind = "Post"
	KindTeamFile    NodeKind = "TeamFile"
)

// Node is one entry of an organisation's backed-up data: a mailbox, folder, message,
// OneDrive, document, site, library, list, list item, team, channel, post or channel file.
// Children are in the order VBO lists them. The simulator serves exactly these nodes.
type Node struct {
	ID       string
	Name     string // display name, subject, title or file name
	Kind     NodeKind
	Email    string // mailboxes, OneDrives (owner), teams (group e-mail)
	URL      string // OneDrives, sites, libraries, lists
	Size     int64  // bytes for messages, documents and files
	Created  time.Time
	Modified time.Time // modified, or received for messages
	By       string    // createdBy/modifiedBy, the sender of a message, the author of a post
	To       string    // messages: recipient
	Category string    // mail folders: VBO's RESTExchangeFolder category
	PostID   int64     // posts
	IsFolder bool      // Teams file entries that are folders
	Parent   *Node     // nil for containers (mailbox, OneDrive, site, team)
	Children []*Node
	// Container is the mailbox, OneDrive, site or team the node is in (itself for containers).
	Container *Node
	// Channel is the channel a post or Teams file belongs to.
	Channel *Node
}

// OrgTree is the deterministic backed-up data of one organisation (Tree).
type OrgTree struct {
	OrganizationID string
	Mailboxes      []*Node
	OneDrives      []*Node
	Sites          []*Node
	Teams          []*Node
	byID           map[string]*Node
	postByID       map[int64]*Node
}

// Node returns the node with this id (nil if none). Posts are found by their decimal postId.
func (t *OrgTree) Node(id string) *Node {
	if t == nil {
		return nil
	}
	return t.byID[id]
}

// Filter returns n's children of one kind, in order.
func (n *Node) Filter(kind NodeKind) []*Node {
	var out []*Node
	for _, c := range n.Children {
		if c.Kind == kind {
			out = append(out, c)
		}
	}
	return out
}

// Walk calls f for n's descendants of one kind, depth first in order.
func (n *Node) Walk(kind NodeKind, f func(*Node)) {
	for _, c := range n.Children {
		if c.Kind == kind {
			f(c)
		}
		c.Walk(kind, f)
	}
}

// Path is the node's names from its container down, joined by sep.
func (n *Node) Path(sep string) string {
	var parts []string
	for x := n; x != nil; x = x.Parent {
		parts = append(parts, x.Name)
	}
	if n.Container != nil && n.Container != n {
		parts = append(parts, n.Container.Name)
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, sep)
}

// BigFolderItems is how many items the first mailbox's Inbox, the first OneDrive's
// "Documents" folder, the first site's "Shared Documents" library and the first team's
// General channel (posts) hold: enough to page.
const BigFolderItems = 120

// Tree returns the organisation's backed-up data (nil for an unknown id). It is generated
// from the organisation id alone, so the same organisation has the same tree on every run.
func (s *Server) Tree(orgID string) *OrgTree {
	u, ok := parseUUID(orgID)
	if !ok {
		return nil
	}
	i, ok := s.orgByID[u]
	if !ok {
		return nil
	}
	return s.treeOf(i)
}

func (s *Server) treeOf(i int) *OrgTree {
	s.treeMu.Lock()
	defer s.treeMu.Unlock()
	if s.trees == nil {
		s.trees = map[int]*OrgTree{}
	}
	if t := s.trees[i]; t != nil {
		return t
	}
	t := genTree(&s.orgs[i], s.now)
	s.trees[i] = t
	return t
}

type treeGen struct {
	r    *rand.Rand
	t    *OrgTree
	org  *orgData
	now  time.Time
	post int64
}

func genTree(o *orgData, now time.Time) *OrgTree {
	a, b := idWords(o.uid)
	g := &treeGen{r: rand.New(rand.NewPCG(a^0x7472656, b)), org: o, now: now,
		t: &OrgTree{OrganizationID: o.ID, byID: map[string]*Node{}, postByID: map[int64]*Node{}}}
	g.exchange()
	g.oneDrive()
	g.sharePoint()
	g.teams()
	return g.t
}

func (g *treeGen) uuid() string { return uuidString(uuidFrom(g.r)) }

// exchangeID looks like an EWS id (URL-safe base64).
func (g *treeGen) exchangeID() string {
	b := make([]byte, 30)
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	return "AAMkA" + base64.RawURLEncoding.EncodeToString(b)
}

func (g *treeGen) when() time.Time {
	return g.now.Add(-time.Duration(g.r.Int64N(int64(400 * 24 * time.Hour)))).Truncate(time.Second)
}

func (g *treeGen) add(parent *Node, n *Node) *Node {
	if parent != nil {
		n.Parent = parent
		if parent.Container != nil {
			n.Container = parent.Container
		}
		if parent.Kind == KindChannel {
			n.Channel = parent
			n.Parent = nil // channel files/posts are at the channel's top level
		} else if parent.Channel != nil {
			n.Channel = parent.Channel
		}
		if parent.Kind == KindMailbox || parent.Kind == KindOneDrive || parent.Kind == KindSite || parent.Kind == KindTeam {
			n.Parent = nil
		}
		parent.Children = append(parent.Children, n)
	} else {
		n.Container = n
	}
	if n.Created.IsZero() {
		n.Created = g.when()
	}
	if n.Modified.IsZero() {
		n.Modified = n.Created.Add(time.Duration(g.r.Int64N(int64(30 * 24 * time.Hour)))).Truncate(time.Second)
		if n.Modified.After(g.now) {
			n.Modified = g.now
		}
	}
	if n.Kind == KindPost {
		g.post++
		n.PostID = 1_700_000_000_000 + g.post
		n.ID = fmt.Sprint(n.PostID)
		g.t.postByID[n.PostID] = n
	}
	g.t.byID[n.ID] = n
	return n
}

func (g *treeGen) people(n int) []person {
	seen := map[string]bool{}
	var out []person
	for len(out) < n {
		p := person{pick(g.r, firstNames), pick(g.r, lastNames)}
		if !seen[p.dotted()] {
			seen[p.dotted()] = true
			out = append(out, p)
		}
	}
	return out
}

func (g *treeGen) sizeLog(lo, hi float64) int64 { return *logSize(g.r, lo, hi) }

var treeMailFolders = []struct{ name, cat string }{
	{"Inbox", "Inbox"}, {"Sent Items", "Sent"}, {"Drafts", "Drafts"}, {"Deleted Items", "Deleted"}, {"Archive", "None"},
}

func (g *treeGen) exchange() {
	users := g.people(6)
	for k, u := range users {
		mb := g.add(nil, &Node{ID: g.uuid(), Name: u.display(), Kind: KindMailbox, Email: u.dotted() + "@" + g.org.domain})
		g.t.Mailboxes = append(g.t.Mailboxes, mb)
		for fi, f := range treeMailFolders {
			fd := g.add(mb, &Node{ID: g.exchangeID(), Name: f.name, Kind: KindMailFolder, Category: f.cat})
			n := 2 + g.r.IntN(12)
			if k == 0 && fi == 0 {
				n = BigFolderItems
			}
			g.mailItems(fd, u, users, n)
			if fi == 0 {
				for _, sub := range []string{"Projects", "Receipts"} {
					sf := g.add(fd, &Node{ID: g.exchangeID(), Name: sub, Kind: KindMailFolder, Category: "None"})
					g.mailItems(sf, u, users, 1+g.r.IntN(6))
				}
			}
		}
	}
}

func (g *treeGen) mailItems(fd *Node, owner person, users []person, n int) {
	for j := 0; j < n; j++ {
		from := pick(g.r, users)
		subj := fmt.Sprintf("%s #%d", pick(g.r, mailSubjects), j+1)
		g.add(fd, &Node{ID: g.exchangeID(), Name: subj, Kind: KindMailItem, Size: g.sizeLog(900, 5e6),
			By: from.dotted() + "@" + g.org.domain, To: owner.dotted() + "@" + g.org.domain})
	}
}

func (g *treeGen) oneDrive() {
	users := g.people(5)
	for k, u := range users {
		url := fmt.Sprintf("https://%s-my.sharepoint.com/personal/%s_%s", g.org.slug, strings.ToLower(u.first+"_"+u.last), strings.ReplaceAll(g.org.domain, ".", "_"))
		d := g.add(nil, &Node{ID: g.uuid(), Name: u.display(), Kind: KindOneDrive, Email: u.dotted() + "@" + g.org.domain, URL: url})
		g.t.OneDrives = append(g.t.OneDrives, d)
		for fi, fname := range []string{"Documents", "Projects", "Pictures"} {
			fd := g.add(d, &Node{ID: g.uuid(), Name: fname, Kind: KindDriveFolder, By: u.display()})
			n := 2 + g.r.IntN(10)
			if k == 0 && fi == 0 {
				n = BigFolderItems
			}
			g.docs(fd, KindDriveDoc, u.display(), n)
			if fi == 1 {
				sub := g.add(fd, &Node{ID: g.uuid(), Name: "2026", Kind: KindDriveFolder, By: u.display()})
				g.docs(sub, KindDriveDoc, u.display(), 1+g.r.IntN(5))
			}
		}
		g.docs(d, KindDriveDoc, u.display(), 1+g.r.IntN(3))
	}
}

func (g *treeGen) docs(parent *Node, kind NodeKind, by string, n int) {
	for j := 0; j < n; j++ {
		name := pick(g.r, docNames)
		if dot := strings.LastIndex(name, "."); dot > 0 {
			name = fmt.Sprintf("%s %d%s", name[:dot], j+1, name[dot:])
		}
		g.add(parent, &Node{ID: g.uuid(), Name: name, Kind: kind, Size: g.sizeLog(200, 5e7), By: by})
	}
}

func (g *treeGen) sharePoint() {
	users := g.people(4)
	names := []string{siteNames[0], siteNames[1%len(siteNames)], siteNames[2%len(siteNames)]}
	for k, sn := range names {
		url := fmt.Sprintf("https://%s.sharepoint.com/sites/%s", g.org.slug, sn)
		site := g.add(nil, &Node{ID: g.uuid(), Name: sn, Kind: KindSite, URL: url})
		g.t.Sites = append(g.t.Sites, site)
		for li, ln := range []string{"Shared Documents", "Site Assets"} {
			lib := g.add(site, &Node{ID: g.uuid(), Name: ln, Kind: KindLibrary, URL: url + "/" + strings.ReplaceAll(ln, " ", "%20")})
			by := pick(g.r, users).display()
			n := 2 + g.r.IntN(8)
			if k == 0 && li == 0 {
				n = BigFolderItems
			}
			g.docs(lib, KindSiteDoc, by, n)
			fd := g.add(lib, &Node{ID: g.uuid(), Name: "Archive", Kind: KindSiteFolder, By: by})
			g.docs(fd, KindSiteDoc, by, 1+g.r.IntN(5))
		}
		for _, ln := range []string{"Tasks", "Issues"} {
			list := g.add(site, &Node{ID: g.uuid(), Name: ln, Kind: KindList, URL: url + "/Lists/" + ln})
			for j := 0; j < 3+g.r.IntN(10); j++ {
				g.add(list, &Node{ID: fmt.Sprintf("%s-%d", list.ID[:8], j+1), Name: fmt.Sprintf("%s item %d", strings.TrimSuffix(ln, "s"), j+1), Kind: KindSiteItem, By: pick(g.r, users).display(), Size: g.sizeLog(300, 2e5)})
			}
		}
	}
}

func (g *treeGen) teams() {
	users := g.people(5)
	for k := 0; k < 3; k++ {
		name := teamNames[k%len(teamNames)]
		alias := strings.ToLower(strings.NewReplacer(" ", "", "&", "").Replace(name))
		tm := g.add(nil, &Node{ID: g.uuid(), Name: name, Kind: KindTeam, Email: alias + "@" + g.org.domain})
		g.t.Teams = append(g.t.Teams, tm)
		for ci, cn := range []string{"General", channelNames[(k+1)%len(channelNames)], channelNames[(k+2)%len(channelNames)]} {
			b := make([]byte, 16)
			for i := range b {
				b[i] = byte(g.r.Uint32())
			}
			ch := g.add(tm, &Node{ID: fmt.Sprintf("19:%x@thread.tacv2", b), Name: cn, Kind: KindChannel})
			n := 2 + g.r.IntN(10)
			if k == 0 && ci == 0 {
				n = BigFolderItems
			}
			for j := 0; j < n; j++ {
				u := pick(g.r, users)
				g.add(ch, &Node{Name: fmt.Sprintf("%s #%d", pick(g.r, mailSubjects), j+1), Kind: KindPost, By: u.display(), Size: g.sizeLog(500, 5e5)})
			}
			g.docs(ch, KindTeamFile, pick(g.r, users).display(), 2+g.r.IntN(5))
		}
	}
}
