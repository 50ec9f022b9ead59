package vbosim

import (
	"math/rand/v2"
	"strconv"
	"strings"
)

// Word lists used to generate realistic-looking, entirely fictional tenants, users and items.
// The "famous" names are Microsoft's well-known sample companies; the rest are combinations.

var famousOrgs = []string{
	"Contoso Ltd", "Fabrikam Inc", "Northwind Traders", "Adventure Works Cycles", "Tailspin Toys",
	"Wingtip Toys", "Woodgrove Bank", "Litware Inc", "Proseware Inc", "Lucerne Publishing",
	"Alpine Ski House", "Coho Winery", "Blue Yonder Airlines", "Fourth Coffee", "Humongous Insurance",
	"Margie's Travel", "Trey Research", "Wide World Importers", "Southridge Video", "VanArsdel Ltd",
	"Relecloud", "Munson's Pickles and Preserves", "Consolidated Messenger", "City Power & Light",
	"A. Datum Corporation", "Bellows College", "Best For You Organics", "First Up Consultants",
	"Lamna Healthcare", "Graphic Design Institute", "School of Fine Art", "Nod Publishers",
}

var orgPrefixes = []string{
	"Blue", "Northern", "Silver", "Summit", "Harbor", "Granite", "Cedar", "Maple", "Redwood", "Falcon",
	"Pioneer", "Atlas", "Beacon", "Crescent", "Evergreen", "Frontier", "Golden", "Highland", "Ironwood",
	"Juniper", "Keystone", "Lakeside", "Meridian", "Nordic", "Oakridge", "Pinnacle", "Quantum", "Riverside",
	"Sterling", "Tidewater", "Unity", "Vertex", "Westfield", "Zenith", "Aurora", "Bridgeway", "Coastal",
	"Delta", "Eastwind", "Fairview", "Greenfield", "Horizon", "Insight", "Lighthouse", "Metro", "Northstar",
	"Orchard", "Prairie", "Stonebridge", "Twin Peaks",
}

var orgCores = []string{
	"Logistics", "Dynamics", "Health", "Bank", "Foods", "Energy", "Consulting", "Engineering", "Legal",
	"Insurance", "Manufacturing", "Pharma", "Retail", "Media", "Motors", "Analytics", "Construction",
	"Hospitality", "Freight", "Robotics", "Software", "Textiles", "Capital", "Dental", "Architects",
	"Aerospace", "Biotech", "Brewing", "Chemicals", "Education", "Farms", "Holdings", "Imaging", "Labs",
	"Marine", "Networks", "Optics", "Properties", "Solar", "Telecom",
}

var orgLegal = []string{"Ltd", "Inc", "GmbH", "AG", "LLC", "BV", "SA", "Pty Ltd", "plc", "Group"}

var firstNames = []string{
	"John", "Jane", "Alex", "Maria", "David", "Sarah", "Michael", "Emma", "Daniel", "Olivia", "James",
	"Sophie", "Robert", "Laura", "Thomas", "Anna", "Peter", "Julia", "Mark", "Nina", "Lucas", "Eva",
	"Henrik", "Ingrid", "Pierre", "Claire", "Mateo", "Lucia", "Kenji", "Yuki", "Rahul", "Priya", "Omar",
	"Leila", "Pavel", "Katya", "Liam", "Chloe", "Noah", "Isabella",
}

var lastNames = []string{
	"Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Wilson", "Anderson", "Taylor", "Thomas",
	"Moore", "Martin", "Jackson", "White", "Harris", "Clark", "Lewis", "Walker", "Hall", "Young", "King",
	"Wright", "Lopez", "Hill", "Scott", "Green", "Adams", "Baker", "Nelson", "Carter", "Mitchell",
	"Roberts", "Turner", "Phillips", "Campbell", "Parker", "Evans", "Edwards", "Collins", "Stewart",
	"Muller", "Schmidt", "Dubois", "Rossi", "Novak", "Jensen", "Tanaka", "Sharma",
}

var mailFolders = []string{
	"Inbox", "Sent Items", "Deleted Items", "Drafts", "Archive", "Calendar", "Contacts", "Inbox\\Projects",
	"Inbox\\Finance", "Inbox\\Customers", "Tasks", "Notes", "Recoverable Items\\Deletions",
}

var mailSubjects = []string{
	"Quarterly report", "RE: Budget approval", "FW: Contract draft v3", "Meeting notes", "Invoice 4471",
	"Team offsite agenda", "RE: Customer escalation", "Weekly status", "Purchase order 2291",
	"Board presentation", "Welcome aboard!", "RE: Project timeline", "Password expiry notice",
	"Travel itinerary", "Signed NDA", "Q3 forecast", "Holiday schedule", "RE: Pricing proposal",
}

var docNames = []string{
	"Budget 2026.xlsx", "Project plan.docx", "Roadmap.pptx", "Contract.pdf", "Onboarding checklist.docx",
	"Sales pipeline.xlsx", "Architecture diagram.vsdx", "Meeting minutes.docx", "Invoice template.xlsx",
	"Brand guidelines.pdf", "Campaign.pptx", "Requirements.docx", "Timesheet.xlsx", "Photo_0412.jpg",
	"Release notes.txt", "Audit findings.docx", "Training video.mp4", "Backup policy.pdf",
}

var docFolders = []string{
	"Documents", "Documents/Projects", "Documents/Finance", "Documents/Archive", "Documents/Personal",
	"Documents/Shared with me", "Documents/Desktop", "Documents/Pictures",
}

var siteNames = []string{
	"Marketing", "Finance", "HR", "Sales", "Engineering", "Legal", "ITSupport", "Operations", "Intranet",
	"ProjectAtlas", "Procurement", "Executive",
}

var siteLibraries = []string{"Shared Documents", "Site Assets", "Policies", "Templates", "Lists/Tasks"}

var teamNames = []string{
	"Marketing", "Sales EMEA", "Engineering", "Support", "Leadership", "Project Phoenix", "HR Team",
	"Finance", "IT Operations", "All Company",
}

var channelNames = []string{"General", "Announcements", "Planning", "Random", "Design", "Releases", "Incidents"}

var hostNames = []string{
	"BXYDEV01", "VBO-CONSOLE01", "ADMIN-PC17", "HELPDESK-03", "WS-FIN-042", "JUMPHOST01", "VBM365-MGMT",
	"LAPTOP-7F3K2Q", "SRV-VEEAM02", "DESKTOP-AB12CD",
}

var reasons = []string{
	"User deleted mail by mistake", "Ticket INC0012345", "Legal hold request", "Restore requested by manager",
	"Migration verification", "Ransomware recovery drill", "Accidental file overwrite", "eDiscovery export",
	"Departed employee data handover", "Quarterly restore test",
}

var failureMessages = []string{
	"Access is denied.", "The mailbox is not available.", "The remote server returned an error: (503) Server Unavailable.",
	"Item with the same name already exists.", "The operation has timed out.", "Target folder was not found.",
}

// orgNamePool yields distinct organisation names in a seeded random order: the famous names
// first (shuffled), then prefix/core/legal combinations (shuffled), then numbered fallbacks.
type orgNamePool struct {
	rng   *rand.Rand
	fam   []int
	combo []int
	i     int
	used  map[string]bool
}

func newOrgNamePool(rng *rand.Rand) *orgNamePool {
	p := &orgNamePool{rng: rng, used: map[string]bool{}}
	p.fam = rng.Perm(len(famousOrgs))
	p.combo = rng.Perm(len(orgPrefixes) * len(orgCores) * len(orgLegal))
	return p
}

func (p *orgNamePool) next() string {
	for {
		var n string
		switch {
		case p.i < len(p.fam):
			n = famousOrgs[p.fam[p.i]]
		case p.i < len(p.fam)+len(p.combo):
			c := p.combo[p.i-len(p.fam)]
			l := c % len(orgLegal)
			c /= len(orgLegal)
			n = orgPrefixes[c%len(orgPrefixes)] + " " + orgCores[c/len(orgPrefixes)] + " " + orgLegal[l]
		default:
			n = orgPrefixes[p.rng.IntN(len(orgPrefixes))] + " " + orgCores[p.rng.IntN(len(orgCores))] + " " +
				strconv.Itoa(p.i)
		}
		p.i++
		if !p.used[n] {
			p.used[n] = true
			return n
		}
	}
}

var legalSuffixes = []string{" Pty Ltd", " Ltd", " Inc", " GmbH", " AG", " LLC", " BV", " SA", " plc", " Group", " Corporation"}

// orgSlug turns "Contoso Ltd" into "contoso", "Blue Logistics GmbH" into "bluelogistics".
func orgSlug(name string) string {
	for _, s := range legalSuffixes {
		if strings.HasSuffix(name, s) {
			name = strings.TrimSuffix(name, s)
			break
		}
	}
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "tenant"
	}
	return b.String()
}
