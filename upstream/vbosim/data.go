package vbosim

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// ---- deterministic hashing / uuids ----

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func idWords(id [16]byte) (uint64, uint64) {
	var a, b uint64
	for i := 0; i < 8; i++ {
		a = a<<8 | uint64(id[i])
		b = b<<8 | uint64(id[8+i])
	}
	return a, b
}

// rngFor returns a PCG generator derived from the server seed, a salt and an id.
func (s *Server) rngFor(salt uint64, id [16]byte, n uint64) *rand.Rand {
	a, b := idWords(id)
	x := splitmix(s.seed ^ splitmix(salt) ^ splitmix(a) ^ splitmix(b+n*0x2545f4914f6cdd1d))
	return rand.New(rand.NewPCG(x, splitmix(x)))
}

func uuidFrom(r *rand.Rand) [16]byte {
	var u [16]byte
	a, b := r.Uint64(), r.Uint64()
	for i := 0; i < 8; i++ {
		u[i] = byte(a >> (56 - 8*i))
		u[8+i] = byte(b >> (56 - 8*i))
	}
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u
}

func uuidString(u [16]byte) string {
	var buf [36]byte
	hex.Encode(buf[0:8], u[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], u[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], u[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], u[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], u[10:])
	return string(buf[:])
}

func parseUUID(s string) ([16]byte, bool) {
	var u [16]byte
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	if len(s) == 32 {
		_, err := hex.Decode(u[:], []byte(s))
		return u, err == nil
	}
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	h := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	_, err := hex.Decode(u[:], []byte(h))
	return u, err == nil
}

// ---- organisations ----

type orgData struct {
	upstream.Organization // without _links
	uid                   [16]byte
	slug                  string // "contoso"
	domain                string // "contoso.onmicrosoft.com" (or "contoso.local" on-premises)
	netbios               string // "CONTOSO"
}

func bptr(b bool) *bool { return &b }

func (s *Server) genOrgs(n int) {
	r := rand.New(rand.NewPCG(splitmix(s.seed^1), splitmix(s.seed^0x6f7267)))
	pool := newOrgNamePool(r)
	slugs := map[string]bool{}
	s.orgs = make([]orgData, n)
	s.orgByID = make(map[[16]byte]int, n)
	for i := range s.orgs {
		o := &s.orgs[i]
		o.uid = uuidFrom(r)
		o.ID = uuidString(o.uid)
		o.Name = pool.next()
		slug := orgSlug(o.Name)
		for k := 2; slugs[slug]; k++ {
			slug = fmt.Sprintf("%s%d", orgSlug(o.Name), k)
		}
		slugs[slug] = true
		o.slug = slug
		o.netbios = strings.ToUpper(slug)
		if len(o.netbios) > 15 {
			o.netbios = o.netbios[:15]
		}
		switch x := r.IntN(100); {
		case x < 85:
			o.Type = upstream.OrganizationTypeOffice365
		case x < 95:
			o.Type = upstream.OrganizationTypeHybrid
		default:
			o.Type = upstream.OrganizationTypeOnPremises
		}
		o.domain = slug + ".onmicrosoft.com"
		if o.Type == upstream.OrganizationTypeOnPremises {
			o.domain = slug + ".local"
		}
		o.OfficeName = o.domain
		switch x := r.IntN(100); {
		case x < 94:
			o.Region = "Worldwide"
		case x < 97:
			o.Region = "Germany"
		case x < 99:
			o.Region = "USGovernment"
		default:
			o.Region = "China"
		}
		online := o.Type != upstream.OrganizationTypeOnPremises
		o.IsExchangeOnline = bptr(online)
		o.IsSharePointOnline = bptr(online && r.IntN(10) < 9)
		o.IsTeamsOnline = bptr(online && r.IntN(10) < 8)
		o.IsTeamsChatsOnline = bptr(online && r.IntN(10) < 3)
		backed := r.IntN(100) < 93
		o.IsBackedup = bptr(backed)
		if backed {
			first := s.now.Add(-time.Duration(100+r.IntN(1400)) * 24 * time.Hour).Add(-time.Duration(r.Int64N(int64(24 * time.Hour))))
			last := s.now.Add(-time.Duration(r.Int64N(int64(30 * time.Hour))))
			first, last = first.Truncate(time.Second), last.Truncate(time.Second)
			o.FirstBackuptime, o.LastBackuptime = &first, &last
		}
		s.orgByID[o.uid] = i
	}
}

// ---- sessions (compact) ----

// csess is the compact, generated form of one restore session (40 bytes). Everything else
// (name, initiatedBy, clientHost, ...) is derived from (seed, id) on demand.
type csess struct {
	id      [16]byte
	created int64 // unix nanoseconds, 100 ns granularity
	dur     int32 // seconds until endTime (stopped sessions)
	org     int32
	nev     int32 // generated events including start/stop markers
	typ     uint8
	result  uint8
	working bool
	added   bool
}

var sessTypes = []upstream.RestoreSessionType{upstream.SessionTypeExchange, upstream.SessionTypeOneDrive, upstream.SessionTypeSharePoint, upstream.SessionTypeTeams}
var sessResults = []upstream.RestoreSessionResult{upstream.SessionResultSuccess, upstream.SessionResultWarning, upstream.SessionResultFailed}

func typeIndex(t upstream.RestoreSessionType) uint8 {
	for i, x := range sessTypes {
		if x == t {
			return uint8(i)
		}
	}
	return 0
}

func resultIndex(t upstream.RestoreSessionResult) uint8 {
	for i, x := range sessResults {
		if x == t {
			return uint8(i)
		}
	}
	return 0
}

var explorerNames = []string{
	"Veeam Explorer for Microsoft Exchange",
	"Veeam Explorer for Microsoft OneDrive for Business",
	"Veeam Explorer for Microsoft SharePoint",
	"Veeam Explorer for Microsoft Teams",
}

// liveSess holds everything mutated at run time for one session.
type liveSess struct {
	sess      *upstream.RestoreSession // added sessions only: the full stored record
	stopAt    *time.Time               // generated Working session stopped via StopSession
	stopRes   upstream.RestoreSessionResult
	genEvents int32 // >=0 overrides csess.nev (SetLargeSession)
	events    []upstream.RestoreSessionEvent
	etag      int64
}

func (s *Server) genSessions(n int) {
	r := rand.New(rand.NewPCG(splitmix(s.seed^2), splitmix(s.seed^0x73657373)))
	s.all = make([]csess, n)
	norgs := len(s.orgs)
	nworking := 0
	if n > 0 {
		nworking = max(1, min(n/150, 25))
	}
	span := int64(90 * 24 * time.Hour)
	now := s.now.UnixNano()
	maxEv := s.opts.MaxEventsPerSession
	for i := range s.all {
		c := &s.all[i]
		c.id = uuidFrom(r)
		switch {
		case i < norgs:
			c.org = int32(i)
		default: // skewed: a few big tenants restore a lot
			u := r.Float64()
			c.org = int32(float64(norgs) * u * u)
		}
		switch x := r.IntN(100); {
		case x < 45:
			c.typ = 0
		case x < 70:
			c.typ = 1
		case x < 90:
			c.typ = 2
		default:
			c.typ = 3
		}
		if s.orgs[c.org].Type == upstream.OrganizationTypeOnPremises && (c.typ == 1 || c.typ == 3) {
			c.typ = 0 // no OneDrive or Teams on-premises
		}
		if i < nworking {
			c.working = true
			c.created = now - int64(time.Minute) - r.Int64N(int64(3*time.Hour))
		} else {
			c.created = now - r.Int64N(span)
			// session length: mostly minutes, sometimes hours
			d := math.Exp(r.Float64()*math.Log(6*3600/20.0)) * 20
			c.dur = int32(d)
			if c.created+int64(c.dur)*int64(time.Second) > now {
				c.created = now - int64(c.dur)*int64(time.Second) - int64(time.Minute)
			}
			switch x := r.IntN(100); {
			case x < 86:
				c.result = 0
			case x < 95:
				c.result = 1
			default:
				c.result = 2
			}
		}
		c.created -= c.created % 100
		// event count: start marker + items (+ stop marker), log-uniform items
		items := 0
		if r.IntN(10) > 0 {
			items = int(math.Exp(r.Float64() * math.Log(float64(max(2, maxEv-1)))))
		}
		if (c.result != 0 || c.working) && items == 0 {
			items = 1
		}
		ev := 1 + items
		if !c.working {
			ev++
		}
		c.nev = int32(min(ev, max(maxEv, 2)))
	}
	s.order = make([]int32, n)
	for i := range s.order {
		s.order[i] = int32(i)
	}
	slices.SortFunc(s.order, s.cmpOrder)
	s.byID = make([]int32, n)
	copy(s.byID, s.order)
	slices.SortFunc(s.byID, func(a, b int32) int { return bytes.Compare(s.all[a].id[:], s.all[b].id[:]) })
}

// cmpOrder orders newest first by creationTime, ties by id ascending.
func (s *Server) cmpOrder(a, b int32) int {
	x, y := &s.all[a], &s.all[b]
	if x.created != y.created {
		if x.created > y.created {
			return -1
		}
		return 1
	}
	return bytes.Compare(x.id[:], y.id[:])
}

func (s *Server) findSession(id [16]byte) (int32, bool) {
	i, ok := slices.BinarySearchFunc(s.byID, id, func(e int32, t [16]byte) int { return bytes.Compare(s.all[e].id[:], t[:]) })
	if !ok {
		return -1, false
	}
	return s.byID[i], true
}

// person is a fictional user of an organisation.
type person struct{ first, last string }

func (p person) display() string { return p.first + " " + p.last }
func (p person) dotted() string  { return strings.ToLower(p.first + "." + p.last) }

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func randIPv4(r *rand.Rand) string {
	nets := []string{"192.0.2.", "198.51.100.", "203.0.113.", "10.0.", "172.16.4."}
	n := pick(r, nets)
	if strings.Count(n, ".") == 2 {
		return fmt.Sprintf("%s%d.%d", n, r.IntN(255), 1+r.IntN(254))
	}
	return fmt.Sprintf("%s%d", n, 1+r.IntN(254))
}

func randIPv6(r *rand.Rand) string {
	return fmt.Sprintf("2001:db8:%x::%x", r.IntN(0xffff), 1+r.IntN(0xfffe))
}

const (
	saltSession = 0x5e55
	saltEvent   = 0xe7e7
	saltEventID = 0x1d1d
	saltSetID   = 0x5e71
)

// sessionInfo is the derived (non-compact) view of a generated session used for events.
type sessionInfo struct {
	c       *csess
	org     *orgData
	user    person
	portal  bool
	created time.Time
	end     time.Time // endTime (stopped) or Now (working)
}

func (s *Server) info(i int32) sessionInfo {
	c := &s.all[i]
	r := s.rngFor(saltSession, c.id, 0)
	si := sessionInfo{c: c, org: &s.orgs[c.org], created: time.Unix(0, c.created).UTC()}
	si.user = person{pick(r, firstNames), pick(r, lastNames)}
	si.portal = r.IntN(100) < 22
	if c.working {
		si.end = s.now
		if !si.end.After(si.created) {
			si.end = si.created.Add(time.Hour)
		}
	} else {
		si.end = si.created.Add(time.Duration(c.dur) * time.Second)
	}
	return si
}

// genSession materialises a generated session (without links/overrides).
func (s *Server) genSession(i int32) upstream.RestoreSession {
	si := s.info(i)
	c := si.c
	r := s.rngFor(saltSession, c.id, 1)
	o := si.org
	rs := upstream.RestoreSession{
		ID:           uuidString(c.id),
		Name:         explorerNames[c.typ],
		Organization: o.Name,
		Type:         sessTypes[c.typ],
		CreationTime: si.created,
		State:        upstream.SessionStateStopped,
		Result:       sessResults[c.result],
	}
	if c.working {
		rs.State = upstream.SessionStateWorking
		rs.Result = upstream.SessionResultSuccess
	} else {
		e := si.end
		rs.EndTime = &e
	}
	if si.portal {
		rs.InitiatedBy = o.Name
		rs.ScopeName = pick(r, []string{"Default Scope", "Helpdesk Restore Scope", "Self-service " + o.slug, "Legal Scope"})
	} else {
		admins := []string{
			o.netbios + "\\administrator",
			o.netbios + "\\" + si.user.dotted(),
			"admin@" + o.domain,
			"helpdesk@" + o.domain,
			"VBM365-MGMT\\Administrator",
		}
		rs.InitiatedBy = pick(r, admins)
	}
	switch x := r.IntN(100); {
	case x < 35:
		rs.ClientHost = fmt.Sprintf("%s (via: %s)", pick(r, hostNames), randIPv4(r))
	case x < 60:
		rs.ClientHost = pick(r, hostNames)
	case x < 80:
		rs.ClientHost = randIPv4(r)
	case x < 88:
		rs.ClientHost = randIPv6(r)
	}
	if r.IntN(100) < 30 {
		rs.Reason = pick(r, reasons)
	}
	items := int(c.nev) - 1
	if !c.working {
		items--
	}
	switch {
	case c.result == 2:
		rs.Details = "Restore failed: " + pick(r, failureMessages)
	case c.result == 1:
		rs.Details = fmt.Sprintf("Processed %d items, some items were skipped or restored with warnings", items)
	case !c.working && r.IntN(100) < 40:
		rs.Details = fmt.Sprintf("Processed %d items", items)
	}
	return rs
}

// eventCtx is what event generation needs about its session.
type eventCtx struct {
	sessionInfo
	n       int        // generated events
	stopped bool       // generated with a stop marker
	stopAt  *time.Time // Working session stopped at run time
	stopRes upstream.RestoreSessionResult
	badIdx  int
}

func (s *Server) eventContext(i int32) eventCtx {
	si := s.info(i)
	ec := eventCtx{sessionInfo: si, n: int(si.c.nev), stopped: !si.c.working && !si.c.added}
	if si.c.added {
		ec.n = 0
	}
	if ls := s.live[i]; ls != nil {
		if ls.genEvents >= 0 {
			ec.n = int(ls.genEvents)
		}
		ec.stopAt, ec.stopRes = ls.stopAt, ls.stopRes
	}
	items := ec.n - 1
	if ec.stopped {
		items--
	}
	if items > 0 {
		r := s.rngFor(saltEvent, si.c.id, math.MaxUint32)
		ec.badIdx = 1 + r.IntN(items)
	}
	return ec
}

func eventID(s *Server, sid [16]byte, k int) [16]byte {
	return uuidFrom(s.rngFor(saltEventID, sid, uint64(k)))
}

func logSize(r *rand.Rand, lo, hi float64) *int64 {
	v := int64(math.Exp(math.Log(lo) + r.Float64()*(math.Log(hi)-math.Log(lo))))
	return &v
}

// genEvent materialises generated event k (0-based order) of a session.
func (s *Server) genEvent(ec *eventCtx, k int) upstream.RestoreSessionEvent {
	c := ec.c
	ev := upstream.RestoreSessionEvent{ID: uuidString(eventID(s, c.id, k)), Order: k}
	zero := "00:00:00"
	if k == 0 {
		t := ec.created
		ev.Type, ev.Status, ev.StartTime, ev.EndTime, ev.Duration = upstream.EventTypeNone, upstream.EventStatusSuccess, t, &t, zero
		ev.Title, ev.Message = "Restore session started", "Restore session started"
		return ev
	}
	if ec.stopped && k == ec.n-1 {
		t := ec.end
		ev.Type, ev.StartTime, ev.EndTime, ev.Duration = upstream.EventTypeNone, t, &t, zero
		ev.Status = upstream.RestoreEventStatus(sessResults[c.result])
		ev.Title, ev.Message = "Restore session stopped", "Restore session stopped"
		return ev
	}
	r := s.rngFor(saltEvent, c.id, uint64(k))
	span := ec.end.Sub(ec.created)
	gap := span / time.Duration(ec.n)
	ev.StartTime = ec.created.Add(span * time.Duration(k) / time.Duration(ec.n)).Add(time.Duration(r.Int64N(int64(gap/10 + 1)))).Truncate(100)
	status := upstream.EventStatusSuccess
	last := c.working && k == ec.n-1 // the item being processed right now
	switch {
	case last && ec.stopAt == nil:
		status = upstream.EventStatusRunning
	case last:
		status = upstream.RestoreEventStatus(ec.stopRes)
	case k == ec.badIdx && c.result == 2:
		status = upstream.EventStatusFailed
	case k == ec.badIdx && c.result == 1:
		status = upstream.EventStatusWarning
	case c.result == 1 && r.IntN(10) == 0:
		status = upstream.EventStatusSkipped
	}
	ev.Status = status
	s.fillItem(ec, r, &ev)
	// duration: a fixed overhead plus size at 5-60 MB/s, never longer than the slot
	d := time.Duration(200+r.IntN(3000)) * time.Millisecond
	if ev.ItemSizeBytes != nil {
		d += time.Duration(float64(*ev.ItemSizeBytes) / ((5 + 55*r.Float64()) * 1e6) * float64(time.Second))
	}
	if status == upstream.EventStatusSkipped || ev.Type == upstream.EventTypeView {
		d /= 20
	}
	if limit := time.Duration(float64(gap) * 0.9); d > limit {
		d = limit
	}
	d = d.Truncate(100)
	if d <= 0 {
		d = time.Duration(1+r.IntN(9999)) * 100
	}
	switch {
	case status == upstream.EventStatusRunning:
		ev.Duration = TimeSpan(s.now.Sub(ev.StartTime).Truncate(100))
	case last: // stopped at run time while this item was running
		if d = ec.stopAt.Sub(ev.StartTime); d < 0 {
			d = 0
		}
		fallthrough
	default:
		e := ev.StartTime.Add(d)
		ev.EndTime = &e
		ev.Duration = TimeSpan(d)
	}
	return ev
}

var verbs = map[upstream.RestoreEventType][2]string{
	upstream.EventTypeRestore: {"Restore", "restored"},
	upstream.EventTypeSave:    {"Save", "saved"},
	upstream.EventTypeExport:  {"Export", "exported"},
	upstream.EventTypeSend:    {"Send", "sent"},
	upstream.EventTypeView:    {"View", "opened"},
}

func weighted(r *rand.Rand, ts []upstream.RestoreEventType, w []int) upstream.RestoreEventType {
	tot := 0
	for _, x := range w {
		tot += x
	}
	x := r.IntN(tot)
	for i, y := range w {
		if x < y {
			return ts[i]
		}
		x -= y
	}
	return ts[0]
}

// fillItem fills a generated item event's type, item, size, source, target, title and
// message. The item comes from the session's workload and belongs to the session's user, or
// now and then to another user of the organisation. r is the event's generator: the order of
// its draws fixes the data, so it must not change.
func (s *Server) fillItem(ec *eventCtx, r *rand.Rand, ev *upstream.RestoreSessionEvent) {
	u := ec.user
	if r.IntN(5) == 0 {
		u = person{pick(r, firstNames), pick(r, lastNames)}
	}
	it := itemOwner{
		org:      ec.org,
		user:     u,
		localDir: "C:\\Users\\" + strings.ToLower(u.first) + "\\Documents\\VeeamRestore\\",
	}
	switch ec.c.typ {
	case 0:
		it.exchangeItem(r, ev)
	case 1:
		it.oneDriveItem(r, ev)
	case 2:
		it.sharePointItem(r, ev)
	default:
		it.teamsItem(r, ev)
	}
	v := verbs[ev.Type]
	ev.Title = v[0] + " " + strings.ToLower(ev.ItemType)
	ev.Message = itemMessage(r, ev, v)
	if ev.Type == upstream.EventTypeView {
		ev.Target = ""
	}
}

// itemOwner is whose item an event handles: the organisation, the user and the user's local
// folder that Save writes to.
type itemOwner struct {
	org      *orgData
	user     person
	localDir string
}

// exchangeItem draws an Exchange event: a mailbox, a mail folder or a message.
func (it itemOwner) exchangeItem(r *rand.Rand, ev *upstream.RestoreSessionEvent) {
	o, u := it.org, it.user
	ev.Type = weighted(r, []upstream.RestoreEventType{upstream.EventTypeRestore, upstream.EventTypeSave, upstream.EventTypeExport, upstream.EventTypeSend, upstream.EventTypeView}, []int{35, 20, 20, 15, 10})
	folder := pick(r, mailFolders)
	base := o.domain + "\\" + u.display()
	switch x := r.IntN(20); {
	case x == 0 && ev.Type != upstream.EventTypeSend:
		ev.ItemName, ev.ItemType = u.display(), "Mailbox"
		ev.Source = base
		ev.ItemSizeBytes = logSize(r, 50e6, 40e9)
	case x < 4:
		ev.ItemName, ev.ItemType = folder[strings.LastIndex(folder, "\\")+1:], "Folder"
		ev.Source = base + "\\" + folder
		ev.ItemSizeBytes = logSize(r, 1e5, 5e9)
	default:
		ev.ItemName, ev.ItemType = pick(r, mailSubjects), "Item"
		ev.Source = base + "\\" + folder
		ev.ItemSizeBytes = logSize(r, 900, 30e6)
	}
	switch ev.Type {
	case upstream.EventTypeRestore:
		if r.IntN(2) == 0 {
			ev.Target = ev.Source
		} else {
			ev.Target = base + "\\Restored Items"
		}
	case upstream.EventTypeSave:
		ev.Target = it.localDir + ev.ItemName + ".msg"
	case upstream.EventTypeExport:
		ev.Target = "C:\\Export\\" + u.display() + ".pst"
	case upstream.EventTypeSend:
		ev.Target = u.dotted() + "@" + o.domain
	}
}

// oneDriveItem draws a OneDrive event: a folder or a file in the user's OneDrive.
func (it itemOwner) oneDriveItem(r *rand.Rand, ev *upstream.RestoreSessionEvent) {
	o, u := it.org, it.user
	ev.Type = weighted(r, []upstream.RestoreEventType{upstream.EventTypeRestore, upstream.EventTypeSave, upstream.EventTypeSend, upstream.EventTypeView}, []int{45, 30, 15, 10})
	root := fmt.Sprintf("https://%s-my.sharepoint.com/personal/%s_%s/", o.slug, strings.ToLower(u.first+"_"+u.last), strings.ReplaceAll(o.domain, ".", "_"))
	folder := pick(r, docFolders)
	if r.IntN(12) == 0 {
		ev.ItemName, ev.ItemType = folder[strings.LastIndex(folder, "/")+1:], "Folder"
		ev.Source = root + folder
		ev.ItemSizeBytes = logSize(r, 1e6, 60e9)
	} else {
		ev.ItemName, ev.ItemType = pick(r, docNames), "File"
		ev.Source = root + folder + "/" + ev.ItemName
		ev.ItemSizeBytes = logSize(r, 200, 2e9)
	}
	switch ev.Type {
	case upstream.EventTypeRestore:
		ev.Target = root + "Documents/Restored"
	case upstream.EventTypeSave:
		ev.Target = it.localDir + ev.ItemName
	case upstream.EventTypeSend:
		ev.Target = u.dotted() + "@" + o.domain
	}
}

// sharePointItem draws a SharePoint event: a site, a library, a list item or a document (on
// an on-premises farm for on-premises organisations).
func (it itemOwner) sharePointItem(r *rand.Rand, ev *upstream.RestoreSessionEvent) {
	o := it.org
	ev.Type = weighted(r, []upstream.RestoreEventType{upstream.EventTypeRestore, upstream.EventTypeSave, upstream.EventTypeExport, upstream.EventTypeView}, []int{50, 25, 10, 15})
	site := fmt.Sprintf("https://%s.sharepoint.com/sites/%s", o.slug, pick(r, siteNames))
	if o.Type == upstream.OrganizationTypeOnPremises {
		site = "https://sharepoint." + o.domain + "/sites/" + site[strings.LastIndex(site, "/")+1:]
	}
	lib := pick(r, siteLibraries)
	switch x := r.IntN(20); {
	case x == 0:
		ev.ItemName, ev.ItemType, ev.Source = site[strings.LastIndex(site, "/")+1:], "Site", site
		ev.ItemSizeBytes = logSize(r, 1e7, 200e9)
	case x < 3:
		ev.ItemName, ev.ItemType, ev.Source = lib, "Library", site+"/"+lib
		ev.ItemSizeBytes = logSize(r, 1e6, 20e9)
	case x < 5:
		ev.ItemName, ev.ItemType, ev.Source = fmt.Sprintf("Item %d", 1+r.IntN(900)), "List item", site+"/Lists/Tasks"
		ev.ItemSizeBytes = logSize(r, 300, 2e5)
	default:
		ev.ItemName, ev.ItemType = pick(r, docNames), "Document"
		ev.Source = site + "/" + lib + "/" + ev.ItemName
		ev.ItemSizeBytes = logSize(r, 200, 3e9)
	}
	switch ev.Type {
	case upstream.EventTypeRestore:
		ev.Target = ev.Source
	case upstream.EventTypeSave:
		ev.Target = it.localDir + ev.ItemName
	case upstream.EventTypeExport:
		ev.Target = "C:\\Export\\SharePoint\\" + ev.ItemName
	}
}

// teamsItem draws a Teams event: a channel, a post, a channel file or a tab.
func (it itemOwner) teamsItem(r *rand.Rand, ev *upstream.RestoreSessionEvent) {
	o, u := it.org, it.user
	ev.Type = weighted(r, []upstream.RestoreEventType{upstream.EventTypeRestore, upstream.EventTypeSave, upstream.EventTypeExport, upstream.EventTypeSend, upstream.EventTypeView}, []int{45, 20, 15, 10, 10})
	team, ch := pick(r, teamNames), pick(r, channelNames)
	switch x := r.IntN(10); {
	case x < 2:
		ev.ItemName, ev.ItemType, ev.Source = ch, "Channel", team+"\\"+ch
		ev.ItemSizeBytes = logSize(r, 1e5, 10e9)
	case x < 6:
		ev.ItemName, ev.ItemType, ev.Source = "Post by "+u.display(), "Post", team+"\\"+ch
		ev.ItemSizeBytes = logSize(r, 500, 5e5)
	case x < 9:
		ev.ItemName, ev.ItemType, ev.Source = pick(r, docNames), "File", team+"\\"+ch+"\\Files"
		ev.ItemSizeBytes = logSize(r, 200, 2e9)
	default:
		ev.ItemName, ev.ItemType, ev.Source = "Planner", "Tab", team+"\\"+ch
	}
	switch ev.Type {
	case upstream.EventTypeRestore:
		ev.Target = team + "\\" + ch
	case upstream.EventTypeSave, upstream.EventTypeExport:
		ev.Target = it.localDir + ev.ItemName
	case upstream.EventTypeSend:
		ev.Target = u.dotted() + "@" + o.domain
	}
}

// itemMessage is an item event's message for its status; verb is the event type's entry in
// verbs. A failed item draws its failure reason from r.
func itemMessage(r *rand.Rand, ev *upstream.RestoreSessionEvent, verb [2]string) string {
	item := strings.ToLower(ev.ItemType)
	switch ev.Status {
	case upstream.EventStatusRunning:
		return fmt.Sprintf("%sing %s \"%s\"...", strings.TrimSuffix(verb[0], "e"), item, ev.ItemName)
	case upstream.EventStatusFailed:
		return fmt.Sprintf("Failed to %s %s \"%s\": %s", strings.ToLower(verb[0]), item, ev.ItemName, pick(r, failureMessages))
	case upstream.EventStatusWarning:
		return fmt.Sprintf("%s \"%s\" was %s with warnings: some properties could not be restored", ev.ItemType, ev.ItemName, verb[1])
	case upstream.EventStatusSkipped:
		return fmt.Sprintf("%s \"%s\" was skipped: the item already exists in the target location", ev.ItemType, ev.ItemName)
	default:
		return fmt.Sprintf("%s \"%s\" was %s successfully", ev.ItemType, ev.ItemName, verb[1])
	}
}
