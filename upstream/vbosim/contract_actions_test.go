package vbosim

import (
	"fmt"
	"net/url"
	"time"
)

// The contract calls of the Exchange mailbox/folder, SharePoint and Teams actions (issue 25).

func mailboxContractCalls(ver string, sess map[string]string, tree *OrgTree, app string) []rcontract {
	mb, other := tree.Mailboxes[2], tree.Mailboxes[3]
	f := mb.Filter(KindMailFolder)[1]
	base := "/RestoreSessions/" + sess["Vex"] + "/organization/mailboxes/" + mb.ID
	fp := base + "/folders/" + f.ID
	missing := "/RestoreSessions/" + sess["Vex"] + "/organization/mailboxes/" + mb.ID + "/folders/nope"
	return []rcontract{
		{"mailbox restore", "POST", pMailbox + "/restore", base + "/restore", `{` + app + `,"impersonationAccountName":"svc@x.com"}`, 200, false},
		{"mailbox restore no credentials", "POST", pMailbox + "/restore", base + "/restore", `{}`, 400, false},
		{"mailbox restore to", "POST", pMailbox + "/restoreTo", base + "/restoreTo", `{"mailbox":"` + other.Email + `","folder":"Old mail","changedItems":true,"excludeDrafts":true,` + app + `}`, 200, false},
		{"mailbox restore to foreign", "POST", pMailbox + "/restoreTo", base + "/restoreTo", `{"mailbox":"x@elsewhere.com",` + app + `}`, 400, false},
		{"mailbox export pst", "POST", pMailbox + "/exportToPst", base + "/exportToPst", `{"enablePstSizeLimit":false}`, 200, false},
		{"mailbox export pst no body", "POST", pMailbox + "/exportToPst", base + "/exportToPst", ``, 400, true},
		{"folder restore", "POST", pMailbox + "/folders/{folderId}/restore", fp + "/restore", `{"userName":"admin@x.com","userPassword":"pw"}`, 200, false},
		{"folder restore unknown", "POST", pMailbox + "/folders/{folderId}/restore", missing + "/restore", `{"userName":"a","userPassword":"b"}`, 404, false},
		{"folder restore to", "POST", pMailbox + "/folders/{folderId}/restoreTo", fp + "/restoreTo", `{"mailbox":"` + other.Email + `",` + app + `}`, 200, false},
		{"folder restore to bad region", "POST", pMailbox + "/folders/{folderId}/restoreTo", fp + "/restoreTo", `{"mailbox":"` + other.Email + `","officeRegion":"Moon"}`, 400, true},
		{"folder export pst", "POST", pMailbox + "/folders/{folderId}/exportToPst", fp + "/exportToPst", `{"contentKeyword":"report","pstSizeLimitBytes":1000000}`, 200, false},
	}
}

// spEntry renders a SharePoint document, folder or item as the browse GETs answer it.
func spEntry(n *Node, extra string) string {
	return `{"id":"` + n.ID + `","name":"` + n.Name + `","createdBy":"` + n.By + `","creationTime":"` + n.Created.Format(time.RFC3339) +
		`","modifiedBy":"` + n.By + `","modificationTime":"` + n.Modified.Format(time.RFC3339) + `"` + extra + `}`
}

func sharePointContractCalls(ver string, sess map[string]string, tree *OrgTree, app, code string) []rcontract {
	site, other := tree.Sites[0], tree.Sites[1]
	lib, list := site.Filter(KindLibrary)[1], site.Filter(KindList)[0]
	docs := lib.Filter(KindSiteDoc)
	folder := lib.Filter(KindSiteFolder)[0]
	item := list.Filter(KindSiteItem)[0]
	sent := map[string]int{"v6": 200, "v8": 204}[ver]
	s := "/RestoreSessions/" + sess["Vesp"] + "/Organization/Sites/" + site.ID
	S := pSP + "/{siteId}"
	d := func(n *Node) string { return spEntry(n, `,"sizeBytes":`+fmt.Sprint(n.Size)) }
	fo := spEntry(folder, `,"type":"LibraryFolder"`)
	it := spEntry(item, `,"title":"`+item.Name+`"`)
	to := `"siteURL":"` + other.URL + `/"`
	return []rcontract{
		{"sp docs save", "POST", S + "/Documents/save", s + "/Documents/save", `{"documents":[` + d(docs[0]) + `,` + d(docs[1]) + `]}`, 200, false},
		{"sp docs save unknown", "POST", S + "/Documents/save", s + "/Documents/save", `{"documents":[` + spEntry(&Node{ID: "nope", Name: "x"}, "") + `]}`, 404, false},
		{"sp docs save folder as document", "POST", S + "/Documents/save", s + "/Documents/save", `{"documents":[` + spEntry(folder, "") + `]}`, 404, false},
		{"sp docs send", "POST", S + "/Documents/send", s + "/Documents/send", `{"documents":[` + d(docs[0]) + `],"from":"a@x.com","to":"b@x.com","subject":"s","text":"t","skipItemChecks":false}`, sent, false},
		{"sp docs send no to", "POST", S + "/Documents/send", s + "/Documents/send", `{"documents":[` + d(docs[0]) + `]}`, 400, false},
		{"sp docs restore", "POST", S + "/Documents/restore", s + "/Documents/restore", `{"documents":[` + d(docs[1]) + `],"restorePermissions":true,"sendSharedLinksNotification":false,"documentVersion":"Last","documentLastVersionAction":"Merge",` + app + `}`, 200, false},
		{"sp docs restore no credentials", "POST", S + "/Documents/restore", s + "/Documents/restore", `{"documents":[` + d(docs[1]) + `],"restorePermissions":true}`, 400, false},
		{"sp docs restore bad version", "POST", S + "/Documents/restore", s + "/Documents/restore", `{"documents":[` + d(docs[1]) + `],"restorePermissions":true,"documentVersion":"Some"}`, 400, true},
		{"sp docs restore to", "POST", S + "/Documents/restoreTo", s + "/Documents/restoreTo", `{"documents":[` + d(docs[1]) + `],` + to + `,"list":"Recovered","documentVersion":"All","officeRegion":"Worldwide",` + app + `}`, 200, false},
		{"sp docs restore to foreign site", "POST", S + "/Documents/restoreTo", s + "/Documents/restoreTo", `{"documents":[` + d(docs[1]) + `],"siteURL":"https://evil.sharepoint.com/sites/x",` + app + `}`, 400, false},
		{"sp docs restore to no site", "POST", S + "/Documents/restoreTo", s + "/Documents/restoreTo", `{"documents":[` + d(docs[1]) + `],` + app + `}`, 400, false},
		{"sp folders save", "POST", S + "/Folders/save", s + "/Folders/save", `{"folders":[` + fo + `]}`, 200, false},
		{"sp folders send", "POST", S + "/Folders/send", s + "/Folders/send", `{"folders":[` + fo + `],"to":"b@x.com"}`, sent, false},
		{"sp folders restore", "POST", S + "/Folders/restore", s + "/Folders/restore", `{"folders":[` + fo + `],"restorePermissions":false,"userCode":"` + code + `"}`, 200, false},
		{"sp folders restore to", "POST", S + "/Folders/restoreTo", s + "/Folders/restoreTo", `{"folders":[` + fo + `],` + to + `,"userName":"u","userPassword":"p"}`, 200, false},
		{"sp folders bad type", "POST", S + "/Folders/save", s + "/Folders/save", `{"folders":[` + spEntry(folder, `,"type":"Drawer"`) + `]}`, 200, true},
		{"sp items restore", "POST", S + "/Items/restore", s + "/Items/restore", `{"items":[` + it + `],"restorePermissions":true,` + app + `}`, 200, false},
		{"sp items restore to", "POST", S + "/Items/restoreTo", s + "/Items/restoreTo", `{"items":[` + it + `],` + to + `,` + app + `}`, 200, false},
		{"sp library save", "POST", S + "/Libraries/{libraryId}/save", s + "/Libraries/" + lib.ID + "/save", ``, 200, false},
		{"sp library save unknown", "POST", S + "/Libraries/{libraryId}/save", s + "/Libraries/" + list.ID + "/save", ``, 404, false},
		{"sp library send", "POST", S + "/Libraries/{libraryId}/send", s + "/Libraries/" + lib.ID + "/send", `{"to":"b@x.com;c@x.com","subject":"s"}`, sent, false},
		{"sp library restore", "POST", S + "/Libraries/{libraryId}/restore", s + "/Libraries/" + lib.ID + "/restore", `{"restoreListViews":true,"changedItems":true,"deletedItems":false,"restorePermissions":true,` + app + `}`, 200, false},
		{"sp library restore to", "POST", S + "/Libraries/{libraryId}/restoreTo", s + "/Libraries/" + lib.ID + "/restoreTo", `{` + to + `,"list":"Assets (restored)",` + app + `}`, 200, false},
		{"sp list restore", "POST", S + "/Lists/{listId}/restore", s + "/Lists/" + list.ID + "/restore", `{"restorePermissions":true,` + app + `}`, 200, false},
		{"sp list restore to", "POST", S + "/Lists/{listId}/restoreTo", s + "/Lists/" + list.ID + "/restoreTo", `{` + to + `,` + app + `}`, 200, false},
		{"sp list restore missing", "POST", S + "/Lists/{listId}/restore", s + "/Lists/" + lib.ID + "/restore", `{` + app + `}`, 404, false},
		{"sp site restore", "POST", S + "/restore", s + "/restore", `{"restoreSubsites":true,"restoreMasterPages":true,"restoreListViews":true,"restorePermissions":true,"changedItems":true,"deletedItems":true,"documentVersion":"Last","documentLastVersionAction":"Overwrite",` + app + `}`, 200, false},
		{"sp site restore no credentials", "POST", S + "/restore", s + "/restore", `{"restorePermissions":true}`, 400, false},
		{"sp site restore to", "POST", S + "/restoreTo", s + "/restoreTo", `{` + to + `,"alias":"restored",` + app + `}`, 200, false},
		{"sp in a Teams session", "POST", S + "/restore", "/RestoreSessions/" + sess["Vet"] + "/Organization/Sites/" + site.ID + "/restore", `{"restorePermissions":true,` + app + `}`, 400, false},
	}
}

func teamsContractCalls(ver string, sess map[string]string, tree *OrgTree, app string) []rcontract {
	team := tree.Teams[1]
	chs := team.Filter(KindChannel)
	ch, ch2 := chs[1], chs[2]
	posts, files := ch.Filter(KindPost), ch.Filter(KindTeamFile)
	sent := map[string]int{"v6": 200, "v8": 204}[ver]
	tm := "/RestoreSessions/" + sess["Vet"] + "/organization/teams/" + team.ID
	T := pTm + "/{teamId}"
	cid := `"channelId":"` + ch.ID + `"`
	file := func(n *Node) string {
		if ver == "v8" {
			return `{"id":"` + n.ID + `","name":"` + n.Name + `","channelId":"` + n.Channel.ID + `","fileType":"File"}`
		}
		return `{"id":"` + n.ID + `","name":"` + n.Name + `","fileType":"File"}`
	}
	post := func(n *Node) string { return `{"postId":` + fmt.Sprint(n.PostID) + `,"subject":"` + n.Name + `"}` }
	restoreBools := `"restoreChangedItems":true,"restoreMissingItems":true`
	fileT, fileP := T+"/files/{fileId}", tm+"/files/"+files[0].ID
	wrong := tm + "/files/3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	if ver == "v8" {
		fileT = T + "/channels/{channelId}/files/{fileId}"
		fileP = tm + "/channels/" + url.PathEscape(ch.ID) + "/files/" + files[0].ID
		wrong = tm + "/channels/" + url.PathEscape(ch2.ID) + "/files/" + files[0].ID
	}
	chRestore := `{` + restoreBools + `,` + app + `}`
	if ver == "v8" {
		chRestore = `{` + restoreBools + `,"restoreMembers":false,` + app + `}`
	}
	from := posts[0].Created.Add(-time.Hour).Format(time.RFC3339)
	return []rcontract{
		{"team restore", "POST", T + "/restore", tm + "/restore", `{` + restoreBools + `,"restoreMembers":true,"restoreSettings":false,` + app + `}`, 200, false},
		{"team restore without members", "POST", T + "/restore", tm + "/restore", `{` + restoreBools + `,"restoreSettings":false,` + app + `}`, 400, true},
		{"team restore no credentials", "POST", T + "/restore", tm + "/restore", `{` + restoreBools + `,"restoreMembers":false,"restoreSettings":false}`, 400, false},
		{"team restore unknown", "POST", T + "/restore", "/RestoreSessions/" + sess["Vet"] + "/organization/teams/" + tree.Sites[0].ID + "/restore", `{` + restoreBools + `,"restoreMembers":false,"restoreSettings":false}`, 404, false},
		{"channel restore", "POST", T + "/channels/{channelId}/restore", tm + "/channels/" + url.PathEscape(ch2.ID) + "/restore", chRestore, 200, false},
		{"channel restore no switches", "POST", T + "/channels/{channelId}/restore", tm + "/channels/" + url.PathEscape(ch2.ID) + "/restore", `{` + app + `}`, 400, true},
		{"posts save", "POST", T + "/posts/save", tm + "/posts/save", `{` + cid + `,"posts":[` + post(posts[0]) + `,` + post(posts[1]) + `]}`, 200, false},
		{"posts save one", "POST", T + "/posts/save", tm + "/posts/save", `{"posts":[` + post(posts[0]) + `]}`, 200, false},
		{"posts save unknown", "POST", T + "/posts/save", tm + "/posts/save", `{"posts":[{"postId":1}]}`, 404, false},
		{"posts save nothing", "POST", T + "/posts/save", tm + "/posts/save", `{}`, 400, false},
		{"posts send", "POST", T + "/posts/send", tm + "/posts/send", `{"posts":[` + post(posts[1]) + `],"to":"b@x.com","from":"a@x.com","subject":"s","text":"t"}`, sent, false},
		{"posts export", "POST", T + "/posts/export", tm + "/posts/export", `{` + cid + `,"from":"` + from + `","to":null}`, 200, false},
		{"posts export bad date", "POST", T + "/posts/export", tm + "/posts/export", `{` + cid + `,"from":"yesterday"}`, 400, true},
		{"posts restore", "POST", T + "/posts/restore", tm + "/posts/restore", `{` + cid + `,` + app + `}`, 200, false},
		{"posts restore no channel", "POST", T + "/posts/restore", tm + "/posts/restore", `{` + app + `}`, 400, true},
		{"files save", "POST", T + "/files/save", tm + "/files/save", `{` + cid + `,"files":[` + file(files[0]) + `,` + file(files[1]) + `]}`, 200, false},
		{"files save channel", "POST", T + "/files/save", tm + "/files/save", `{` + cid + `}`, 200, false},
		{"files send", "POST", T + "/files/send", tm + "/files/send", `{"files":[` + file(files[1]) + `],"to":"b@x.com"}`, sent, false},
		{"files restore", "POST", T + "/files/restore", tm + "/files/restore", `{"files":[` + file(files[0]) + `],"fileVersion":"Last",` + restoreBools + `,` + app + `}`, 200, false},
		{"files restore no version", "POST", T + "/files/restore", tm + "/files/restore", `{"files":[` + file(files[0]) + `],` + restoreBools + `,` + app + `}`, 400, true},
		{"file save", "POST", fileT + "/save", fileP + "/save", `{"asZip":true}`, 200, false},
		{"file save raw", "POST", fileT + "/save", fileP + "/save", `{"asZip":false}`, 200, false},
		{"file save unknown", "POST", fileT + "/save", wrong + "/save", `{"asZip":false}`, 404, false},
		{"file send", "POST", fileT + "/send", fileP + "/send", `{"to":"b@x.com","subject":"s"}`, sent, false},
		{"file restore", "POST", fileT + "/restore", fileP + "/restore", `{"fileVersion":"All",` + restoreBools + `,` + app + `}`, 200, false},
		{"file restore bad version", "POST", fileT + "/restore", fileP + "/restore", `{"fileVersion":"Some",` + restoreBools + `,` + app + `}`, 400, true},
	}
}
