package httpapi

import (
	"strings"
	"testing"
)

// A message over the bound is cut at a word's end (issue 23: "...the whole lis…").
func TestSafeMessageCutsAtAWord(t *testing.T) {
	t.Parallel()
	long := "ab" + strings.Repeat("select fewer items than the whole list ", 20) // byte 300 falls inside "the"
	got := safeMessage(long)
	if len(got) > maxMessageBytes+len("…") || !strings.HasSuffix(got, "…") {
		t.Fatalf("len %d, %q: want at most the bound and an ellipsis", len(got), got)
	}
	last := strings.Fields(strings.TrimSuffix(got, "…"))
	if w := last[len(last)-1]; !strings.Contains(long, " "+w+" ") || !strings.Contains("select fewer items than the whole list", w) {
		t.Errorf("cut mid-word: ends %q", w)
	}
	if word := strings.TrimSuffix(got, "…"); strings.HasSuffix(word, " lis") || strings.HasSuffix(word, " ite") {
		t.Errorf("cut mid-word: %q", got)
	}
	if short := "refused: about 12 calls"; safeMessage(short) != short {
		t.Errorf("a short message changed: %q", safeMessage(short))
	}
}
